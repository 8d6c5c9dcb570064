/**
 * Global transaction ids of two-phase commit: `<service>:<transactionId>`. PostgreSQL takes the gid of
 * `PREPARE TRANSACTION` / `COMMIT PREPARED` only as a literal, never as a parameter, so every gid is checked
 * against a strict pattern before it is spliced into SQL.
 */
const gidPattern = /^([a-z][a-z0-9-]{0,39}):([A-Za-z0-9_-]{1,120})$/;

export function makeGid(service: string, transactionId: string): string {
  const gid = `${service}:${transactionId}`;
  parseGid(gid);
  return gid;
}

export function parseGid(gid: string): { service: string; transactionId: string } {
  const match = gidPattern.exec(gid);
  if (match === null || match[1] === undefined || match[2] === undefined) {
    throw new Error(`invalid 2PC gid ${JSON.stringify(gid)}: expected <service>:<transactionId>`);
  }
  return { service: match[1], transactionId: match[2] };
}

/** The gid as an SQL string literal (safe: {@link parseGid} admits no quote). */
export function gidLiteral(gid: string): string {
  parseGid(gid);
  return `'${gid}'`;
}
