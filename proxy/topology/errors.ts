/**
 * Errors of the coordinator follower (a proxy's registration, lease and identity).
 */
import { defineErrors } from '../../shared/errors.js';

export const FollowerErrors = defineErrors({
  REDSLOT_ERR_PROXY_ID_TAKEN: {
    message: 'proxy id {id} is already registered under another lease ({lease}) on {coordinator}',
    description:
      'Registration is create-if-absent under the proxy\'s own lease: another live process holds this id. Ids are unique per process lifetime (host-port-random); only an explicit duplicate id can collide.',
  },
});
