"""Benchmark: our teaching attention vs F.scaled_dot_product_attention vs nn.MultiheadAttention on CPU.

Prints one JSON line per (sequence length, implementation, pass) with the best time over a few
repeats and the ratio to PyTorch's fused kernel; a last line summarises. Runs in about a minute:

    python bench/attention.py [--lengths 32 64 128 256 512] [--batch 8] [--d-model 384] [--heads 12]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from sft_helpers import attention


def best_ms(fn: Callable[[], object], repeats: int) -> float:
    """Fastest of ``repeats`` calls in milliseconds, after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[32, 64, 128, 256, 512])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--d-model", type=int, default=384)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(args.d_model, args.heads, batch_first=True).eval()
    ours = attention.MultiHeadSelfAttention.from_torch_multihead_attention(mha).eval()

    def fused(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # the same projections as ours, with PyTorch's fused attention kernel in the middle
        q, k, v = (attention.split_heads(p(x), args.heads) for p in (ours.q_proj, ours.k_proj, ours.v_proj))
        return ours.out_proj(attention.merge_heads(F.scaled_dot_product_attention(q, k, v, attn_mask=mask)))

    ratios = []
    for n in args.lengths:
        x = torch.randn(args.batch, n, args.d_model)
        am = torch.ones(args.batch, n, dtype=torch.long)
        am[0, n // 2 :] = 0  # one padded sentence, so masks are exercised
        mask = attention.padding_mask(am)
        impls = {
            "ours": lambda x=x, mask=mask: ours(x, mask),
            "F.scaled_dot_product_attention": lambda x=x, mask=mask: fused(x, mask),
            "nn.MultiheadAttention": lambda x=x, am=am: mha(
                x, x, x, key_padding_mask=~am.bool(), need_weights=False
            )[0],
        }
        for pass_name in ("forward", "forward+backward"):
            times = {}
            for name, fn in impls.items():
                if pass_name == "forward":
                    with torch.no_grad():
                        times[name] = best_ms(fn, args.repeats)
                else:
                    x.requires_grad_(True)
                    times[name] = best_ms(lambda fn=fn: fn().sum().backward(), args.repeats)
                    x.requires_grad_(False)
            base = times["F.scaled_dot_product_attention"]
            for name, ms in times.items():
                line = {
                    "seq_len": n,
                    "batch": args.batch,
                    "d_model": args.d_model,
                    "heads": args.heads,
                    "pass": pass_name,
                    "impl": name,
                    "ms": round(ms, 3),
                    "ratio_to_sdpa": round(ms / base, 3),
                }
                print(json.dumps(line), flush=True)
            ratios.append(times["ours"] / base)
    summary = {
        "summary": "ours / F.scaled_dot_product_attention",
        "min_ratio": round(min(ratios), 3),
        "max_ratio": round(max(ratios), 3),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
