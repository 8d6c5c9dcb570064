/** The hashring package ships no types: the part the http-proxy recipe uses. */
declare module 'hashring' {
  export default class HashRing {
    constructor(servers: string[] | Record<string, unknown>, algorithm?: string);
    get(key: string): string;
  }
}
