#!/usr/bin/python3
"""The PyTorch side of the trajectory parity test (packages/model/src/trajectory.parity.test.ts): fine-tunes
torchvision's resnet18 from given weights on given batches, as the crash course does (cross-entropy, Adam at
lr 0.001, model.train(); a frozen backbone is `requires_grad = False` on everything but fc, still in train
mode), and records the loss of every step.

    /usr/bin/python3 scripts/parity/train-trajectory.py --out DIR --image-size 32 --batch 64 --steps 30 \
        [--freeze-backbone] [--ranks 2] [--optimizer sgd --lr 0.01] [--threads 2]

Writes DIR/weights.safetensors (the starting point, torchvision layout), DIR/inputs.safetensors (images NHWC
float32 [steps*batch, size, size, 3], labels int64) and DIR/losses.json. With --ranks R it trains as DDP does
without SyncBatchNorm: R replicas, each on its contiguous 1/R of every batch (batch norm per replica), their
gradients averaged before one identical Adam step; the loss is the replicas' mean.
"""
import argparse
import copy
import json
import os

import torch

from fixture_io import save_safetensors, seeded_resnet18


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=64, help="global batch")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--num-classes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--optimizer", choices=["adam", "sgd"], default="adam", help="sgd: momentum 0.9")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--freeze-backbone", action="store_true")
    parser.add_argument("--ranks", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)

    # The starting point stands in for pretrained weights: torchvision's init with batch-norm parameters and
    # running statistics moved away from 1, 0, 0, 1.
    model = seeded_resnet18(args.num_classes, args.seed)
    save_safetensors(os.path.join(args.out, "weights.safetensors"), model.state_dict())

    # Learnable data: each class a fixed random pattern, each image its class's pattern plus noise.
    generator = torch.Generator().manual_seed(args.seed + 1)
    size, count = args.image_size, args.steps * args.batch
    patterns = torch.randn(args.num_classes, size, size, 3, generator=generator)
    labels = torch.randint(0, args.num_classes, (count,), generator=generator)
    images = patterns[labels] + 4.0 * torch.randn(count, size, size, 3, generator=generator)
    save_safetensors(os.path.join(args.out, "inputs.safetensors"), {"images": images, "labels": labels})

    replicas = [model] + [copy.deepcopy(model) for _ in range(args.ranks - 1)]
    for replica in replicas:
        replica.train()
        if args.freeze_backbone:
            for name, parameter in replica.named_parameters():
                parameter.requires_grad = name.startswith("fc.")
    def optimizer_of(replica):
        trainable = [p for p in replica.parameters() if p.requires_grad]
        if args.optimizer == "sgd":
            return torch.optim.SGD(trainable, lr=args.lr, momentum=0.9)
        return torch.optim.Adam(trainable, lr=args.lr)

    optimizers = [optimizer_of(r) for r in replicas]
    per_rank = args.batch // args.ranks
    losses = []
    for step in range(args.steps):
        batch = images[step * args.batch:(step + 1) * args.batch].permute(0, 3, 1, 2)
        target = labels[step * args.batch:(step + 1) * args.batch]
        step_losses = []
        for rank, (replica, optimizer) in enumerate(zip(replicas, optimizers)):
            optimizer.zero_grad(set_to_none=True)
            part = slice(rank * per_rank, (rank + 1) * per_rank)
            loss = torch.nn.functional.cross_entropy(replica(batch[part]), target[part])
            loss.backward()
            step_losses.append(loss.item())
        # The all-reduce: every replica gets the mean gradient, then takes the same step.
        trainable = [[p for p in r.parameters() if p.requires_grad] for r in replicas]
        for group in zip(*trainable):
            mean = torch.stack([p.grad for p in group]).mean(dim=0)
            for p in group:
                p.grad = mean.clone()
        for optimizer in optimizers:
            optimizer.step()
        losses.append(sum(step_losses) / len(step_losses))
    with open(os.path.join(args.out, "losses.json"), "w") as f:
        json.dump(losses, f)


if __name__ == "__main__":
    main()
