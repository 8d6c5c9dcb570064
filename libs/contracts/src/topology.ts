/**
 * The local topology: which apps run, how many instances, on which default ports. `npm run stack` starts it and
 * docker/compose.yaml mirrors it (a test checks that they agree).
 */
export interface ServiceTopology {
  /** The app folder under apps/. */
  readonly app: string;
  /** One default HTTP port per instance. */
  readonly ports: readonly number[];
  /** Owns a PostgreSQL database named after the app. */
  readonly database: boolean;
}

export const DOMAIN_SERVICES: readonly ServiceTopology[] = [
  { app: 'orders', ports: [8101, 8102], database: true },
  { app: 'inventory', ports: [8201, 8202], database: true },
  { app: 'payments', ports: [8301, 8302], database: true },
  { app: 'orchestrator', ports: [8401, 8402], database: true },
];
