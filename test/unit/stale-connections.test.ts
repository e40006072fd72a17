// Issue 15 hole 5: the names a proxy gives its backend connections, and which ones the dashboard reads back
// from a CLIENT LIST reply as a proxy's (dashboard/topom/stale-connections.ts).
import { describe, expect, it } from 'vitest';
import { proxyConnections } from '../../dashboard/topom/stale-connections.js';
import { proxyConnectionName, proxyIdOfConnectionName } from '../../shared/model/connection-name.js';

describe('proxy connection names', () => {
  it('carry the registration id, and only such names are read back as a proxy\'s', () => {
    expect(proxyConnectionName('proxy', 'host-6379-ab12cd.2')).toBe('redslot-proxy:host-6379-ab12cd.2');
    expect(proxyConnectionName('dedicated', 'h-1-x')).toBe('redslot-dedicated:h-1-x');
    expect(proxyConnectionName('proxy', null)).toBe('redslot-proxy'); // static topology: no id, never killed
    expect(proxyIdOfConnectionName('redslot-proxy:host-6379-ab12cd.2')).toBe('host-6379-ab12cd.2');
    expect(proxyIdOfConnectionName('redslot-dedicated:h-1-x')).toBe('h-1-x');
    expect(proxyIdOfConnectionName('redslot-proxy')).toBeNull();
    expect(proxyIdOfConnectionName('redslot-proxy:')).toBeNull();
    expect(proxyIdOfConnectionName('app:redslot-proxy:x')).toBeNull();
    expect(proxyIdOfConnectionName('')).toBeNull();
  });

  it('a CLIENT LIST reply: the proxies\' connections with their ids, nothing else', () => {
    const list = [
      'id=3 addr=127.0.0.1:50000 laddr=127.0.0.1:6379 fd=8 name=redslot-proxy:p1.1 age=9 idle=0 flags=N db=0 cmd=set',
      'id=4 addr=127.0.0.1:50001 laddr=127.0.0.1:6379 fd=9 name=redslot-dedicated:p1.1 age=9 idle=0 flags=N db=2 cmd=exec',
      'id=5 addr=127.0.0.1:50002 laddr=127.0.0.1:6379 fd=10 name= age=1 idle=0 flags=N db=0 cmd=client|list',
      'id=6 addr=127.0.0.1:50003 laddr=127.0.0.1:6379 fd=11 name=redslot-proxy age=1 idle=0 flags=N db=0 cmd=get',
      'id=7 addr=127.0.0.1:50004 laddr=127.0.0.1:6379 fd=12 name=redslot-proxy:p2.3 age=1 idle=0 flags=N db=0 cmd=get',
      '',
    ].join('\n');
    expect(proxyConnections(list)).toEqual([
      { id: '3', proxyId: 'p1.1', addr: '127.0.0.1:50000' },
      { id: '4', proxyId: 'p1.1', addr: '127.0.0.1:50001' },
      { id: '7', proxyId: 'p2.3', addr: '127.0.0.1:50004' },
    ]);
  });
});
