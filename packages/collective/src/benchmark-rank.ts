// Entry point of one rank process of `ringtrain bench allreduce`; the parent passes its settings as argv[2].
import { runBenchmarkRank } from './benchmark.js';

await runBenchmarkRank(process.argv[2] ?? '{}');
