#!/usr/bin/python3
"""PyTorch reference for `ringtrain bench loader`: torchvision's ImageFolder + train transforms (PIL decode,
RandomResizedCrop(224), RandomHorizontalFlip, ToTensor, Normalize) through a DataLoader with the same number of
workers as our threads. Prints one JSON object: {"imagesPerSec", "images", "seconds", "workers"}.

Runs with Debian's packages, not a virtualenv:
    flock /tmp/ringtrain-apt.lock apt-get install -y python3-torchvision
    /usr/bin/python3 scripts/bench/torch_loader.py <image-folder> --workers 2 --batch-size 32
"""
import argparse
import json
import time

import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--warmup-batches", type=int, default=2)
    args = parser.parse_args()

    torch.set_num_threads(1)
    transform = transforms.Compose([
        transforms.RandomResizedCrop(args.image_size),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    dataset = datasets.ImageFolder(args.root, transform=transform)
    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True, num_workers=args.workers,
                        persistent_workers=args.workers > 0, prefetch_factor=2 if args.workers > 0 else None)
    images = 0
    started = None
    for index, (batch, _labels) in enumerate(loader):
        if index + 1 == args.warmup_batches:
            started = time.perf_counter()
            continue
        if started is None:
            continue
        images += batch.shape[0]
    seconds = time.perf_counter() - started
    print(json.dumps({"imagesPerSec": images / seconds, "images": images, "seconds": seconds, "workers": args.workers}))


if __name__ == "__main__":
    main()
