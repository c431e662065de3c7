#!/usr/bin/python3
"""PyTorch reference for `ringtrain bench train`: torchvision resnet18 training steps (Adam, lr 1e-3,
cross-entropy, synthetic data), one thread per process, same JSON fields as the Ringtrain benchmark.

    /usr/bin/python3 scripts/bench/torch-train.py --image-size 64 --batch-size 32 [--steps 5] [--processes 2]

With --processes N > 1 it runs DDP over gloo on this machine (N processes × 1 thread, each with the
given per-process batch), and imagesPerSec is the sum over processes. Install torch with
scripts/install-python-reference.sh.
"""
import argparse
import json
import os
import resource
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torchvision


def run(rank, args, init_file, results):
    torch.set_num_threads(1)
    torch.manual_seed(rank)
    if args.processes > 1:
        dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=args.processes)
    model = torchvision.models.resnet18(num_classes=args.num_classes)
    model.train()
    net = torch.nn.parallel.DistributedDataParallel(model) if args.processes > 1 else model
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    images = torch.randn(args.batch_size, 3, args.image_size, args.image_size)
    labels = torch.randint(0, args.num_classes, (args.batch_size,))
    step_ms, forward_ms, backward_ms = 0.0, 0.0, 0.0
    for i in range(args.warmup_steps + args.steps):
        t0 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(net(images), labels)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        optimizer.step()
        t3 = time.perf_counter()
        if i >= args.warmup_steps:
            forward_ms += (t1 - t0) * 1000
            backward_ms += (t2 - t1) * 1000
            step_ms += (t3 - t0) * 1000
    results[rank] = (step_ms / args.steps, forward_ms / args.steps, backward_ms / args.steps)
    if args.processes > 1:
        dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=16, help="images per process per step")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup-steps", type=int, default=1)
    parser.add_argument("--num-classes", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()
    init_file = os.path.join(tempfile.mkdtemp(), "rendezvous")
    if args.processes > 1:
        manager = mp.Manager()
        results = manager.dict()
        mp.spawn(run, args=(args, init_file, results), nprocs=args.processes, join=True)
    else:
        results = {}
        run(0, args, init_file, results)
    steps = [results[r] for r in range(args.processes)]
    step_ms = max(s[0] for s in steps)  # synchronous: the slowest rank sets the pace
    print(json.dumps({
        "backend": f"pytorch-{torch.__version__}",
        "processes": args.processes,
        "threadsPerProcess": 1,
        "imageSize": args.image_size,
        "batchSize": args.batch_size,
        "imagesPerSec": args.processes * args.batch_size * 1000 / step_ms,
        "stepMs": step_ms,
        "forwardMs": sum(s[1] for s in steps) / len(steps),
        "backwardMs": sum(s[2] for s in steps) / len(steps),
        # This process's peak; with --processes > 1 the ranks are children and this is only the launcher's.
        "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 if args.processes == 1 else None,
    }))


if __name__ == "__main__":
    main()
