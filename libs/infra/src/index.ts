/**
 * @concord/infra: private PostgreSQL, NATS and child processes for integration tests and `npm run stack`.
 *
 * Everything started here is registered for teardown: `stopAll()` stops it in order, and exit, SIGINT, SIGTERM,
 * SIGHUP, uncaught errors and even SIGKILL of the starting process (through a watchdog) stop it too.
 */
export {
  startPostgres,
  POSTGRES_SETTINGS_DEFAULT,
  type PostgresHandle,
  type PostgresOptions,
} from './postgres.js';
export { findPostgresBinaries, type PostgresBinaries } from './postgres-binaries.js';
export {
  startNats,
  findNatsServer,
  natsGreets,
  natsAuthorizationConfig,
  type NatsUserConfig,
  NatsServerMissingError,
  type NatsHandle,
  type NatsOptions,
} from './nats.js';
export {
  startProcess,
  ProcessGroup,
  ProcessStartError,
  tailLines,
  type ExitInfo,
  type ProcessHandle,
  type ProcessOptions,
  type Readiness,
} from './process.js';
export {
  stopAll,
  emergencyTeardown,
  registerStopper,
  registerTempDir,
  registerProcessGroup,
  registeredCount,
  isProcessAlive,
  type Unregister,
} from './registry.js';
export { freePort, isPortOpen } from './ports.js';
export { waitFor, WaitTimeoutError, type WaitForOptions } from './wait.js';
export {
  startEtcd,
  findEtcd,
  etcdHealthy,
  EtcdMissingError,
  type EtcdHandle,
  type EtcdMember,
  type EtcdOptions,
} from './etcd.js';
export {
  startNatsCluster,
  type NatsClusterHandle,
  type NatsClusterNode,
  type NatsClusterOptions,
} from './nats-cluster.js';
