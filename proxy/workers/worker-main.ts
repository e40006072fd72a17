/** Entry point of a proxy worker process (cluster.setupPrimary exec). */
import { runWorker } from './worker.js';

runWorker();
