#!/usr/bin/python3
"""The PyTorch side of the fine-tuning accuracy check (packages/cli/src/commands/train/accuracy.parity.test.ts).

  pretrain  trains torchvision's resnet18 on a synthetic 10-class dataset of drawn shapes (strokes on black, like
            the digits it is later fine-tuned on) and saves it as safetensors, num_batches_tracked included, as a
            torchvision checkpoint holds it. This is "ImageNet" for the check: another dataset, other classes.
  finetune  the crash course's recipe on an ImageFolder tree: the pretrained model with a new head, cross-entropy,
            Adam at lr 0.001, batch 64, model.train() (batch norm adapts, also with a frozen backbone), no
            augmentation; prints the test accuracy as JSON.

Debian's torch/torchvision under /usr/bin/python3 (scripts/install-python-reference.sh). Threads default to 1 so
that two runs can share this machine's two cores.
"""
import argparse
import json
import math
import random
import sys

import numpy as np
import torch
import torchvision
from PIL import Image, ImageDraw
from torchvision import transforms

from fixture_io import save_safetensors

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
SHAPES = ["ring", "disc", "square", "block", "triangle", "plus", "cross", "equals", "bar", "zigzag"]


def draw_shape(kind, rng, side=28):
    """One white shape on black, at a random place, size, stroke width and angle."""
    image = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(image)
    r = rng.uniform(6, 11)
    cx, cy = rng.uniform(r + 1, side - r - 1), rng.uniform(r + 1, side - r - 1)
    width = rng.randint(2, 4)
    angle = rng.uniform(0, math.pi)

    def rotated(points):
        c, s = math.cos(angle), math.sin(angle)
        return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in points]

    box = [cx - r, cy - r, cx + r, cy + r]
    if kind == "ring":
        draw.ellipse(box, outline=255, width=width)
    elif kind == "disc":
        draw.ellipse(box, fill=255)
    elif kind == "square":
        draw.polygon(rotated([(-r, -r), (r, -r), (r, r), (-r, r)]), outline=255, width=width)
    elif kind == "block":
        draw.polygon(rotated([(-r * 0.8, -r * 0.8), (r * 0.8, -r * 0.8), (r * 0.8, r * 0.8), (-r * 0.8, r * 0.8)]), fill=255)
    elif kind == "triangle":
        draw.polygon(rotated([(0, -r), (r * 0.87, r * 0.5), (-r * 0.87, r * 0.5)]), outline=255, width=width)
    elif kind == "plus":
        draw.line([(cx - r, cy), (cx + r, cy)], fill=255, width=width)
        draw.line([(cx, cy - r), (cx, cy + r)], fill=255, width=width)
    elif kind == "cross":
        draw.line([(cx - r, cy - r), (cx + r, cy + r)], fill=255, width=width)
        draw.line([(cx - r, cy + r), (cx + r, cy - r)], fill=255, width=width)
    elif kind == "equals":
        for y in (-r * 0.4, r * 0.4):
            draw.line(rotated([(-r, y), (r, y)]), fill=255, width=width)
    elif kind == "bar":
        draw.line(rotated([(-r, 0), (r, 0)]), fill=255, width=width)
    elif kind == "zigzag":
        draw.line(rotated([(-r, -r * 0.5), (-r / 3, r * 0.5), (r / 3, -r * 0.5), (r, r * 0.5)]), fill=255, width=width, joint="curve")
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    pixels = np.clip(pixels + np.random.default_rng(rng.getrandbits(32)).normal(0, 0.05, pixels.shape), 0, 1)
    return Image.fromarray((pixels * 255).astype(np.uint8), "L").convert("RGB")


def transform_for(image_size):
    # What a Ringtrain worker does to a training image without --augment: the evaluation transform.
    return transforms.Compose([
        transforms.Resize(image_size),
        transforms.CenterCrop(image_size),
        transforms.ToTensor(),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


def train(model, loader, params, epochs, ranks=1):
    """With ranks > 1, what DDP does with the global batch split among that many processes: each rank's share
    goes through batch norm by itself, the gradients are averaged, and rank 0's running statistics are the
    ones kept (DDP broadcasts rank 0's buffers; Ringtrain keeps rank 0's at each epoch end)."""
    optimizer = torch.optim.Adam(params, lr=1e-3)
    loss_of = torch.nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        for images, labels in loader:
            optimizer.zero_grad()
            for rank, (share, share_labels) in enumerate(zip(images.chunk(ranks), labels.chunk(ranks))):
                kept = {name: buffer.clone() for name, buffer in model.named_buffers()} if rank > 0 else None
                (loss_of(model(share), share_labels) / ranks).backward()
                if kept is not None:
                    with torch.no_grad():
                        for name, buffer in model.named_buffers():
                            buffer.copy_(kept[name])
            optimizer.step()


def accuracy(model, loader):
    model.eval()
    right = total = 0
    with torch.no_grad():
        for images, labels in loader:
            right += (model(images).argmax(dim=1) == labels).sum().item()
            total += len(labels)
    return right / total


def pretrain(args):
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    transform = transform_for(args.image_size)
    samples = [(transform(draw_shape(kind, rng)), label) for label, kind in enumerate(SHAPES) for _ in range(args.images_per_class)]
    held_out = [(transform(draw_shape(kind, rng)), label) for label, kind in enumerate(SHAPES) for _ in range(20)]
    model = torchvision.models.resnet18(num_classes=len(SHAPES))
    loader = torch.utils.data.DataLoader(samples, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(args.seed))
    train(model, loader, model.parameters(), args.epochs)
    shapes_accuracy = accuracy(model, torch.utils.data.DataLoader(held_out, batch_size=100))
    save_safetensors(args.out, model.state_dict(), {"pretrained_on": "synthetic shapes", "format": "pt"})
    print(json.dumps({"out": args.out, "shapesAccuracy": shapes_accuracy, "images": len(samples)}))


def finetune(args):
    torch.manual_seed(args.seed)
    transform = transform_for(args.image_size)
    train_set = torchvision.datasets.ImageFolder(args.train, transform=transform)
    test_set = torchvision.datasets.ImageFolder(args.test, transform=transform)
    model = torchvision.models.resnet18()
    model.load_state_dict(load_safetensors(args.pretrained), strict=False)
    if args.freeze_backbone:
        for parameter in model.parameters():
            parameter.requires_grad = False
    model.fc = torch.nn.Linear(model.fc.in_features, len(train_set.classes))
    loader = torch.utils.data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True, drop_last=args.drop_last, generator=torch.Generator().manual_seed(args.seed))
    train(model, loader, [p for p in model.parameters() if p.requires_grad], args.epochs, args.ranks)
    test_accuracy = accuracy(model, torch.utils.data.DataLoader(test_set, batch_size=100))
    print(json.dumps({"seed": args.seed, "freezeBackbone": args.freeze_backbone, "dropLast": args.drop_last, "ranks": args.ranks, "testAccuracy": test_accuracy, "trainImages": len(train_set), "testImages": len(test_set)}))


def load_safetensors(path):
    with open(path, "rb") as f:
        length = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(length))
        data = f.read()
    dtypes = {"F32": torch.float32, "I64": torch.int64}
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        tensors[name] = torch.frombuffer(bytearray(data[start:end]), dtype=dtypes[entry["dtype"]]).reshape(entry["shape"])
    return {name: tensor for name, tensor in tensors.items() if not name.startswith("fc.")}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("pretrain")
    p.add_argument("--out", required=True)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--images-per-class", type=int, default=300)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    f = commands.add_parser("finetune")
    f.add_argument("--pretrained", required=True)
    f.add_argument("--train", required=True)
    f.add_argument("--test", required=True)
    f.add_argument("--seed", type=int, required=True)
    f.add_argument("--freeze-backbone", action="store_true")
    f.add_argument("--drop-last", action="store_true", help="DataLoader(drop_last=True): no partial last batch, as Ringtrain's default drops one under half the batch")
    f.add_argument("--ranks", type=int, default=1, help="emulate DDP with the batch split among this many ranks (batch norm per rank)")
    f.add_argument("--image-size", type=int, default=32)
    f.add_argument("--epochs", type=int, default=5)
    f.add_argument("--batch-size", type=int, default=64)
    f.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    (pretrain if args.command == "pretrain" else finetune)(args)


if __name__ == "__main__":
    sys.exit(main())
