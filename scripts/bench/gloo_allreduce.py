#!/usr/bin/python3
"""Reference for `ringtrain bench allreduce`: PyTorch's gloo all_reduce between local processes.

Same measurement as ours: a barrier, then the timed all_reduce of an f32 buffer; each iteration's time is the
slowest rank's; figures use nccl-tests' definitions (algbw = bytes / time, busbw = algbw * 2(N-1)/N).
One thread per rank, as for our ranks. Run with Debian's /usr/bin/python3 (python3-torch).

    /usr/bin/python3 scripts/bench/gloo_allreduce.py --workers 2 --mib 44.6 --iters 20
"""
import argparse
import json
import os
import socket
import statistics
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rank_main(rank: int, workers: int, port: int, elements: int, warmup: int, iters: int, results) -> None:
    torch.set_num_threads(1)
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    dist.init_process_group("gloo", rank=rank, world_size=workers)
    data = torch.empty(elements, dtype=torch.float32)
    times = []
    for iteration in range(warmup + iters):
        data.fill_(rank + 1)
        dist.barrier()
        start = time.perf_counter()
        dist.all_reduce(data, op=dist.ReduceOp.SUM)
        if iteration >= warmup:
            times.append((time.perf_counter() - start) * 1000)
    expected = workers * (workers + 1) / 2
    assert data[0].item() == expected and data[-1].item() == expected, "wrong sum"
    results[rank] = times
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--mib", type=float, default=44.6)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    elements = round(args.mib * 1024 * 1024 / 4)
    manager = mp.Manager()
    results = manager.dict()
    mp.spawn(rank_main, args=(args.workers, free_port(), elements, args.warmup, args.iters, results), nprocs=args.workers)
    per_iteration = [max(results[rank][i] for rank in range(args.workers)) for i in range(args.iters)]
    median_ms = statistics.median(per_iteration)
    nbytes = elements * 4
    algbw = nbytes / (median_ms / 1000) / 1e9
    print(json.dumps({
        "reference": "gloo", "torch": torch.__version__, "workers": args.workers, "bytes": nbytes, "iters": args.iters,
        "medianMs": median_ms, "minMs": min(per_iteration), "algbwGBs": algbw,
        "busbwGBs": algbw * 2 * (args.workers - 1) / args.workers,
    }))


if __name__ == "__main__":
    main()
