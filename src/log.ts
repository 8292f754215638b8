/**
 * JSON logs (pino). Secrets never reach a log line: the redact list covers every field name under which the
 * gateway could hold credentials, and the code logs API key ids, never the encoded credential.
 */
import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino'

export type Logger = PinoLogger

export const REDACT_PATHS = [
  'credentials',
  'secret',
  'api_key',
  'password',
  'passphrase',
  'key_passphrase',
  'authorization',
  'headers._cross_cluster_access_credentials',
  '*.credentials',
  '*.secret',
  '*.api_key',
  '*.password',
  '*.passphrase',
  '*.authorization',
]

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'rcgw' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  )
}

/** A logger that discards everything (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
