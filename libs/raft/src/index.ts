export * from './types.js';
export * from './ports.js';
export { CodecError } from './codec/bytes.js';
export {
  MESSAGE_FORMAT_VERSION,
  decodeEntry,
  decodeHardState,
  decodeMessage,
  decodeSnapshot,
  encodeEntry,
  encodeHardState,
  encodeMessage,
  encodeSnapshot,
} from './codec/message-codec.js';
export {
  DiskWal,
  WalClosedError,
  WalCorruptError,
  type DiskWalOptions,
  type SaveOptions,
  type WalRecovery,
  type WalStats,
} from './storage/wal.js';
export {
  FileSnapshotStorage,
  SnapshotCorruptError,
  type FileSnapshotStorageOptions,
} from './storage/snapshot-file.js';
export {
  HANDSHAKE_FRAME_BYTES_MAX,
  TcpTransport,
  type PeerStats,
  type TcpTransportOptions,
  type TransportLogEvent,
  type TransportStats,
} from './transport/tcp-transport.js';
