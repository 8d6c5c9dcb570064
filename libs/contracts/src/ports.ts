/** Default ports of the local topology (`npm run stack`); each is overridable by configuration. */
export const DEFAULT_PORTS = {
  gateway: 8080,
  coordinatorApi: [7001, 7002, 7003],
  coordinatorPeer: [7101, 7102, 7103],
  orders: [8101, 8102],
  inventory: [8201, 8202],
  payments: [8301, 8302],
  orchestrator: [8401, 8402],
  console: 8501,
  postgres: 55432,
  nats: 54222,
} as const;
