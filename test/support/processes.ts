// Tests use the same spawners as `redslot up` and the benchmarks (shared/spawn/).
export * from '../../shared/spawn/process.js';
