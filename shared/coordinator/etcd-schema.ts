/** The `etcd:` config section of proxies and dashboards (authentication and TLS toward etcd). */
import { Type } from 'typebox';
import { Section, Str } from '../config/knobs.js';
import { TlsClientKnobs } from '../tls/schema.js';
import { parseEtcdSecurity } from './etcd-security.js';

export function EtcdKnobs(role: string) {
  const knobs = Section(
    {
      user: Str('', `etcd user (role \`${role}\`; '' = no authentication)`),
      password: Str('', 'password of the etcd user', { secret: true }),
      passwordFile: Str('', 'read the etcd password from this file instead (never on argv)'),
      tls: TlsClientKnobs('TLS toward etcd (`https://` endpoints)', { servername: false }),
    },
    'etcd authentication and TLS (docs/security.md)',
  );
  return Type.Decode(knobs, (raw) => parseEtcdSecurity(raw, 'etcd'));
}
