/**
 * Wire constants of the Elasticsearch transport protocol (spec: transport-protocol.md §1, §5, §6).
 *
 * Sources: server/src/main/java/org/elasticsearch/transport/TcpHeader.java,
 * server/src/main/java/org/elasticsearch/transport/TransportStatus.java,
 * server/src/main/java/org/elasticsearch/transport/TransportHandshaker.java,
 * server/src/main/java/org/elasticsearch/TransportVersions.java.
 */

/** Fixed header: marker(2) + length(4) + requestId(8) + status(1) + version(4) + varHeaderSize(4). */
export const HEADER_SIZE = 23
/** Marker + message length: what TcpTransport.readMessageLength needs before it can say anything. */
export const PING_SIZE = 6
/** Bytes needed to read the version field (TcpHeader.BYTES_REQUIRED_FOR_VERSION). */
export const BYTES_REQUIRED_FOR_VERSION = 19
/** Position of the variable-header-size int32 (TcpHeader.VARIABLE_HEADER_SIZE_POSITION). */
export const VARIABLE_HEADER_SIZE_POSITION = 19
/** Position of the version int32 (TcpHeader.VERSION_POSITION). */
export const VERSION_POSITION = 15
/**
 * messageLength = contentSize + 17 where 17 = requestId(8) + status(1) + version(4) + varHeaderSize(4)
 * (TcpHeader.writeHeader).
 */
export const MESSAGE_LENGTH_OVERHEAD = 17

/** `ES` + int32 -1 (TransportKeepAlive.PING_DATA_SIZE). Treat as read-only. */
export const PING_BYTES: Buffer = Buffer.from([0x45, 0x53, 0xff, 0xff, 0xff, 0xff])
export const MARKER_E = 0x45
export const MARKER_S = 0x53
/** TransportKeepAlive.PING_DATA_SIZE */
export const PING_DATA_SIZE = -1

/** Status bit flags (TransportStatus.java). */
export const Status = {
  RESPONSE: 0x01,
  ERROR: 0x02,
  COMPRESS: 0x04,
  HANDSHAKE: 0x08,
} as const

// --- TransportVersion ids (spec §6) ---------------------------------------------------------
export const V_7_17_0 = 7170099
/** Cut-off for the "features" string array in request variable headers (Header.finishParsingHeader). */
export const V_8_0_0 = 8000099
/** TransportHandshaker.V8_HANDSHAKE_VERSION: handshake protocol with the 7.17.0 message structure. */
export const HANDSHAKE_V8 = 7170099
/** TransportHandshaker.V9_HANDSHAKE_VERSION: handshake protocol with the 8.18.0 message structure. */
export const HANDSHAKE_V9 = 8800000
/** 6.8-layout handshake sent by 7.x nodes (19-byte fixed header, no variable-header-size field). */
export const HANDSHAKE_LEGACY = 6080099
/**
 * [9.x] TransportHandshaker.ALLOWED_HANDSHAKE_VERSIONS. UNVERIFIED for 8.18/8.19 (spec §12 item 3):
 * we accept both, because 9.x sends only 8800000 and 8.x sends 7170099.
 */
export const ALLOWED_HANDSHAKE_VERSIONS: readonly number[] = Object.freeze([HANDSHAKE_V8, HANDSHAKE_V9])
/** add_cross_cluster_api_key_signature (transport/definitions/referable/add_cross_cluster_api_key_signature.csv). */
export const ADD_CROSS_CLUSTER_API_KEY_SIGNATURE = 9191000

// --- action names ---------------------------------------------------------------------------
export const TCP_HANDSHAKE_ACTION = 'internal:tcp/handshake'
export const REMOTE_CLUSTER_HANDSHAKE_ACTION = 'cluster:internal/remote_cluster/handshake'
export const TRANSPORT_HANDSHAKE_ACTION = 'internal:transport/handshake'
export const PROXY_ACTION_PREFIX = 'internal:transport/proxy/'

// --- release labels ---------------------------------------------------------------------------

/**
 * The `.0` releases of spec §6, plus the 9.2 series whose exact `.0` id is UNVERIFIED.
 * Ids since 8.9 are `M_NNN_S_PP`: every id of one release series shares `floor(id / 1000)`
 * (9000009 = 9.0.0, 9000010..9000016 = 9.0.1..9.0.7). We deliberately do not map individual patch
 * ids (the csv has wrong rows produced by release automation, spec §6): an id inside a known series
 * that is not the `.0` id is reported as `M.m.x`.
 */
const SERIES: ReadonlyArray<{ readonly id: number | null; readonly series: number; readonly line: string }> = [
  { id: 8636001, series: 8636, line: '8.14' },
  { id: 8702002, series: 8702, line: '8.15' },
  { id: 8772001, series: 8772, line: '8.16' },
  { id: 8797002, series: 8797, line: '8.17' },
  { id: 8840002, series: 8840, line: '8.18' },
  { id: 8841064, series: 8841, line: '8.19' },
  { id: 9000009, series: 9000, line: '9.0' },
  { id: 9112003, series: 9112, line: '9.1' },
  // 9.2.0's own id is UNVERIFIED (9185000..9185019, spec §12 item 1): every 9185xxx id is '9.2.x'.
  { id: null, series: 9185, line: '9.2' },
  { id: 9250003, series: 9250, line: '9.3' },
]

/**
 * First id of the `M_NNN_S_PP` scheme. Before it (≤ 8.8), ids copied the release version as
 * `M_mm_pp_99` (7_17_00_99 = 7.17.0), so they decode exactly.
 */
const NEW_SCHEME_FROM = 8_500_000

/**
 * Nearest known release label for a TransportVersion id, or null when the id belongs to no known
 * release series. Ordered-integer logic only (no csv): `9000009 → '9.0.0'`, `9000012 → '9.0.x'`,
 * `7170099 → '7.17.0'`, `7170699 → '7.17.6'`, `9185003 → '9.2.x'`, `8841000 → '8.19.x'`.
 */
export function releaseForTransportVersion(id: number): string | null {
  if (!Number.isInteger(id) || id <= 0) return null
  if (id < NEW_SCHEME_FROM) {
    // Old scheme: M_mm_pp_99. Anything not ending in 99 is not a release id.
    if (id % 100 !== 99) return null
    const major = Math.floor(id / 1_000_000)
    const minor = Math.floor(id / 10_000) % 100
    const patch = Math.floor(id / 100) % 100
    if (major < 5) return null
    return `${major}.${minor}.${patch}`
  }
  const series = Math.floor(id / 1000)
  for (const s of SERIES) {
    if (s.series !== series) continue
    if (s.id === id) return `${s.line}.0`
    // Ids of the series below its `.0` id (e.g. 8841000 = INITIAL_ELASTICSEARCH_8_19) are that line's
    // pre-release ids; they still belong to the line.
    return `${s.line}.x`
  }
  return null
}

// --- compression (spec §1.5) ----------------------------------------------------------------------

/**
 * Scheme markers at the start of a compressed body (status bit 0x04), from
 * server/src/main/java/org/elasticsearch/transport/Compression.java. Treat as read-only.
 */
export const DEFLATE_MARKER: Buffer = Buffer.from('DFL\0', 'latin1')
export const LZ4_MARKER: Buffer = Buffer.from('LZ4\0', 'latin1')
/** Magic at the start of every lz4-java LZ4Block block header (ReuseBuffersLZ4BlockOutputStream). */
export const LZ4_BLOCK_MAGIC: Buffer = Buffer.from('LZ4Block', 'latin1')

/**
 * Which scheme a compressed body announces: null while fewer than 4 bytes are known, 'unknown' for
 * anything else (Elasticsearch then fails with "stream marked as compressed, but no compressor
 * found"). The gateway never decompresses; this is for logging and policy only.
 */
export function compressionSchemeOf(bodyStart: Buffer): 'deflate' | 'lz4' | 'unknown' | null {
  if (bodyStart.length < 4) return null
  if (bodyStart.compare(DEFLATE_MARKER, 0, 4, 0, 4) === 0) return 'deflate'
  if (bodyStart.compare(LZ4_MARKER, 0, 4, 0, 4) === 0) return 'lz4'
  return 'unknown'
}
