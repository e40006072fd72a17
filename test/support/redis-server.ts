// Tests use the same spawners as `redslot up` and the benchmarks (deploy/local/spawn/).
export * from '../../deploy/local/spawn/redis.js';
