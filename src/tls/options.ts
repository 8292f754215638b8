/**
 * TLS settings for both sides of the gateway.
 *
 * Client side (the listener on 9443): TLS 1.2 and 1.3 only, Mozilla's "intermediate" cipher list, explicit curves.
 * Elasticsearch's JSSE client (JDK 17/21/25) supports all of these. Client certificates are requested when
 * `client_authentication` is optional/required, but never rejected by OpenSSL itself (`rejectUnauthorized: false`):
 * the listener checks `socket.authorized` so each failure can be counted by reason.
 *
 * Backend side: `verification_mode` follows Elasticsearch's `ssl.verification_mode`: `full` checks the chain and
 * the host name (`server_name`, else the node's host), `certificate` checks the chain only, `none` checks nothing.
 */
import type { ConnectionOptions, TlsOptions } from 'node:tls'
import { checkServerIdentity } from 'node:tls'
import { constants as cryptoConstants } from 'node:crypto'
import { isIP } from 'node:net'
import type { BackendTlsConfig, GatewayConfig } from '../config/types.js'

/** https://ssl-config.mozilla.org/ "intermediate" (TLS 1.2 part; TLS 1.3 suites are OpenSSL's defaults). */
export const INTERMEDIATE_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'DHE-RSA-AES128-GCM-SHA256',
  'DHE-RSA-AES256-GCM-SHA384',
  'DHE-RSA-CHACHA20-POLY1305',
].join(':')

export const ECDH_CURVES = 'X25519:P-256:P-384'

export function serverTlsOptions(cfg: GatewayConfig): TlsOptions {
  const requestCert = cfg.tls.clientAuthentication !== 'none'
  return {
    cert: cfg.tls.cert.pem,
    key: cfg.tls.key,
    ...(cfg.tls.passphrase !== undefined ? { passphrase: cfg.tls.passphrase } : {}),
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    ciphers: INTERMEDIATE_CIPHERS,
    ecdhCurve: ECDH_CURVES,
    // The server picks from its own (Mozilla intermediate) order: a client offering a weak suite first cannot make
    // the gateway use it while a strong one is shared (testssl.sh rates client order HIGH; issue #11 TLS scan).
    honorCipherOrder: true,
    // No TLS 1.2 renegotiation, client-initiated or otherwise: each renegotiation is a full handshake's CPU on the
    // gateway for one client's cheap request (testssl.sh secure_client_renego, MEDIUM). Neither Elasticsearch nor
    // any HTTP client of the REST listener renegotiates; TLS 1.3 has no renegotiation at all.
    secureOptions: cryptoConstants.SSL_OP_NO_RENEGOTIATION,
    requestCert,
    rejectUnauthorized: false,
    ...(requestCert ? { ca: cfg.tls.clientCas.map((b) => b.pem) } : {}),
  }
}

export function backendTlsOptions(tls: BackendTlsConfig, host: string): ConnectionOptions {
  const servername = tls.serverName ?? (isIP(host) ? undefined : host)
  const opts: ConnectionOptions = {
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    ecdhCurve: ECDH_CURVES,
    rejectUnauthorized: tls.verificationMode !== 'none',
    ...(servername !== undefined ? { servername } : {}),
    ...(tls.ca.length > 0 ? { ca: tls.ca.map((b) => b.pem) } : {}),
    ...(tls.cert !== undefined && tls.key !== undefined ? { cert: tls.cert.pem, key: tls.key } : {}),
  }
  if (tls.verificationMode === 'certificate') {
    opts.checkServerIdentity = () => undefined
  } else if (tls.verificationMode === 'full') {
    const expected = tls.serverName ?? host
    opts.checkServerIdentity = (_h, cert) => checkServerIdentity(expected, cert)
  }
  return opts
}
