/**
 * The knobs of TLS blocks: client side (`backend.tls`, `etcd.tls`, the dashboard's `redisTls`,
 * `proxyAdminTls`), checked and read by parseTlsClient; listener side (the proxy's `tls` and `adminTls`, the
 * dashboard's `tls`), checked and read by parseTlsServer.
 */
import { Type } from 'typebox';
import { Bool, Duration, Enum, Section, Str } from '../config/knobs.js';
import { parseTlsClient, parseTlsServer, type TlsListenerConfig } from './config.js';

export function TlsClientKnobs(description: string, opts: { servername: boolean }) {
  const base = {
    enabled: Bool(false, 'TLS on (also on when `ca` or `cert` is given)'),
    ca: Str('', "PEM file of the CA the server's certificate must chain to ('' = system CAs)"),
    cert: Str('', 'PEM client certificate, for servers that require one (with `key`)'),
    key: Str('', 'PEM private key of `cert`'),
  };
  return opts.servername
    ? Section({ ...base, servername: Str('', "SNI and the name checked in the server certificate ('' = the host dialled)") }, description)
    : Section(base, description);
}

/** A client-side block decoded to its files (null = TLS off), for settings read again at each dial. */
export function TlsClientSection(name: string, description: string) {
  return Type.Decode(TlsClientKnobs(description, { servername: true }), (t) => parseTlsClient(t, name));
}

/** The fields of a TLS listener (certificate, client certificates, rotation polling). */
export function tlsListenerFields(what: string) {
  return {
    cert: Str('', `PEM certificate chain presented to ${what} (with \`key\`, turns TLS on)`),
    key: Str('', 'PEM private key of `cert`'),
    ca: Str('', 'PEM CA of client certificates (needed when clientAuth is not `no`)'),
    clientAuth: Enum('no', ['no', 'optional', 'yes'], 'ask clients for a certificate signed by `ca`: no, optional, yes (required)'),
    reloadIntervalMs: Duration('2s', 'the files are polled this often; a changed certificate is used for new connections', { from: 'reloadInterval' }),
  };
}

/** An HTTPS listener's block (the dashboard's `tls`, the proxy's `adminTls`); null = plain HTTP. */
export function TlsListenerKnobs(name: string, description: string) {
  return Type.Decode(Section(tlsListenerFields('HTTP clients'), description), (t): TlsListenerConfig | null => {
    const server = parseTlsServer(t, name);
    return server === null ? null : { ...server, reloadIntervalMs: Math.max(100, t.reloadIntervalMs) };
  });
}
