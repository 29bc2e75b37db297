"""The notes under a report's table: what was scored, how each metric is defined, what was left out."""

from __future__ import annotations

from typing import Any

from pconv.core.metrics import PSNR_CAP

__all__ = ["PAIRS_NAME", "report_notes"]

PAIRS_NAME = "pairs.json"


def report_notes(
    document: dict[str, Any], count: int, inception: bool, *, partial_features: bool, lpips: bool
) -> list[str]:
    """The notes for ``config.json``'s ``document`` and ``count`` pairs; ``inception``: distribution metrics
    were computed, ``partial_features``: some methods lack features, ``lpips``: LPIPS was computed."""
    notes = [
        f"Every method is scored on the same {count} image-mask pairs ({PAIRS_NAME}: one photo per benchmark "
        f"mask, seeded assignment without replacement, seed {document['seed']}), photos centre-cropped to "
        f"{document['size']}², on the composite (valid pixels from the input), over the whole image.",
        "ℓ1 (%) = mean |composite − ground truth| over all pixels and RGB channels in [0, 1], × 100.",
        f"PSNR = 10·log10(1 / MSE) over all pixels and RGB channels (data range 1); a pair with MSE 0 "
        f"counts as {PSNR_CAP:g} dB.",
        "SSIM (Wang et al. 2004): 11×11 Gaussian window σ 1.5, K1 0.01, K2 0.03, data range 1, population "
        "variances, valid filtering (no padding), no downsampling, mean per RGB channel then averaged.",
    ]
    subset = document.get("subset")
    if subset:
        notes.append(
            f"A subset: {subset['pairs']} of the {subset['of']} pairs (--max-pairs {subset['max_pairs']}, "
            f"stratified over bin × N/B, seed {subset['seed']}); not the whole benchmark's numbers."
        )
    method_notes = document.get("method_notes", {})
    notes += [method_notes[m] for m in document["methods"] if method_notes.get(m)]
    skipped = document.get("skipped_photos") or []
    if skipped:
        notes.append(
            f"{len(skipped)} bad photos left out (--skip-bad-images; listed in {PAIRS_NAME}): "
            + ", ".join(skipped[:5])
            + (", …" if len(skipped) > 5 else "")
            + "."
        )
    if document["photos"] < count:
        notes.append(
            f"Only {document['photos']} photos for {count} masks: photos are reused, each at most "
            f"once per round of {document['photos']} masks."
        )
    lpips_record = document.get("lpips")
    if lpips and lpips_record:
        notes.append(
            f"LPIPS (Zhang et al. 2018): {lpips_record['library']}, backbone {lpips_record['network']} from "
            f"{lpips_record['file']}; inputs in [0, 1] scaled to [−1, 1], whole image."
        )
    elif lpips_record:
        notes.append("LPIPS left out: some methods were scored in a run without LPIPS weights.")
    else:
        notes.append(
            "LPIPS left out: no backbone weights (torchvision's cache, --lpips-weights FILE or "
            "--download-weights)."
        )
    notes += _distribution_notes(document, inception, partial_features)
    return notes


def _distribution_notes(document: dict[str, Any], inception: bool, partial_features: bool) -> list[str]:
    record = document.get("inception") or {}
    minimum = document.get("min_group_pairs")
    if inception:
        return [
            f"IS, FID, KID, P-IDS and U-IDS: {record.get('network')} ({record.get('library', '')}, weights "
            f"{record.get('file', '')}), composites rounded to 8 bits, the library's resize to 299²; FID "
            "and KID: composites vs the same pairs' ground truth on 2048-d pool features (FID: sample "
            "covariances, biased upwards below 2048 pairs; KID: 100 subsets of min(1000, n) pairs, ×1 not "
            "×1000); IS on the 1008 unbiased logits in 10 splits; P-IDS/U-IDS from a linear SVM "
            "(see README).",
            f"– for IS, FID, KID, P-IDS and U-IDS: the group has fewer than {minimum} pairs, too few for a "
            "number that means anything.",
        ]
    if partial_features:
        return [
            "IS, FID, KID, P-IDS and U-IDS left out: some methods were scored in a run without Inception "
            "weights, so their features are missing; run `pconv eval` again on this folder with "
            "--inception-weights FILE to add them."
        ]
    return [
        "IS, FID, KID, P-IDS and U-IDS left out: no Inception weights (torch-fidelity's cache, "
        "--inception-weights FILE with torch-fidelity's weights-inception-2015-12-05-6726825d.pth, or "
        "--download-weights)."
    ]
