/** Kept for the migration code's imports; the function lives in shared/ (the proxy uses it too). */
export { displayKey } from '../../shared/display-key.js';
