/** The knobs of a client-side TLS block (`backend.tls`, `etcd.tls`), checked and read by parseTlsClient. */
import { Bool, Section, Str } from '../config/knobs.js';

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
