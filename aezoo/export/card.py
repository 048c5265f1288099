"""Model card (README.md) rendering: Hub YAML metadata + prose + figures.

The YAML header uses huggingface_hub's ``ModelCardData`` so the Hub reads the
metadata (library_name, tags, datasets, metrics and ``model-index`` results).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCardData

from aezoo.spec import ModelConfig

_FAMILY_TEXT = {
    "sda": "Stacked denoising autoencoder (Vincent et al., JMLR 2010); "
    "joint training of all layers with local denoising terms (Zhou et al., arXiv:1405.1380).",
    "drsae": "Discriminative recurrent sparse auto-encoder (Rolfe & LeCun, arXiv:1301.3775): "
    "the ReLU encoder z_{t+1} = relu(E x + S z_t - b) unrolled T times from z_0 = 0 on the "
    "unit-norm input, a linear decoder D and a linear classifier C on z_T / ||z_T||; trained "
    "by back-propagation through time, first on reconstruction + L1 on z_T, then with the "
    "logistic loss added. Inputs are pixels in [0, 1]; the model scales them to unit norm "
    "itself. D z_T reconstructs the unit-norm input, so decode (and denoise, interpolate) "
    "returns clip(s * D z, 0, 1) with the fixed scale s = pixel_scale, the mean L2 norm of "
    "the training images: an image of average norm comes back at its own brightness, a "
    "fainter or bolder one at the average brightness. training.json holds the recipe: the "
    "optimiser (the paper used SGD), phase lengths, lambda, and any input corruption during "
    "phase 2 (a denoising regulariser that the paper does not use).",
    "lista": "Sparse coding with a LISTA encoder (Gregor & LeCun, ICML 2010) trained with "
    "variance-regularised dictionary learning (Evtimova & LeCun, arXiv:2112.09214): per batch, "
    "FISTA finds non-negative codes minimising reconstruction + lambda L1 + gamma times the "
    "distance to the encoder's prediction + beta times a hinge on each code component's "
    "standard deviation over the batch (beta = 0 with unit-norm atoms is plain SDL); then the "
    "decoder regresses the input from the codes and the encoder regresses the codes. At "
    "serving time the encoder alone gives the code (amortised inference: no FISTA), ReLU "
    "outputs, so exact zeros. Inputs are standardised inside the model; decode clamps to the "
    "input range.",
    "lista-denoiser": "Convolutional LISTA image denoiser (CSCNet: Simon & Elad, NeurIPS 2019): "
    "T unrolled iterations of convolutional ISTA, z <- soft(z + A(eta (x - B z)), eta c_t "
    "sigma / 255), output C z, with encoder A, decoder B and dictionary C (K filters k x k) "
    "started from a patch dictionary learned by SDL or VDL (Evtimova & LeCun, "
    "arXiv:2112.09214) and trained end to end on Train400 with additive white Gaussian "
    "noise. The thresholds scale with the noise level sigma, an input of the graph, so one "
    "model covers the whole sigma range; no biases, so the output scales with the input. "
    "Whole images of any size; reflection padding at the borders.",
    "conv-ae": "Convolutional autoencoder of the ACAI paper (Berthelot et al., arXiv:1807.07543, "
    "§4): strided-by-pooling 3x3 convolutions down to a small latent image, mirrored with "
    "nearest-neighbour upsampling. Trained on reconstruction, optionally with the ACAI critic "
    "(adversarially constrained interpolation, eq. 2-3), input noise (denoising baseline) or "
    "latent dropout (dropout baseline); training.json says which.",
}
_METRIC_TEXT = {
    "test_error_pct": "classification error on the test split, %",
    "recon_psnr_db": "PSNR of decode(encode(x)) on clean test inputs, dB (R = 1 for pixels, "
    "2 for lines in [-1, 1], 8 for LCN patches)",
    "masking25_noisy_psnr_db": "PSNR of test images with 25% masking noise, dB",
    "masking25_denoised_psnr_db": "PSNR of denoise() on those noisy images, dB",
    "denoise_gain_db": "denoised minus noisy PSNR, dB",
    "probe_accuracy_pct": "logistic regression on the codes (fit on train, scored on test), %",
    "code_zero_pct": "code entries exactly 0 on the test set (encoder codes), %",
    "collapsed_components": "code components never non-zero on the test set",
    "negative_code_entries": "code entries < 0 on the test set (count)",
    "gaussian_noisy_psnr_db": "PSNR of test images + Gaussian noise (std 0.3, clipped), dB",
    "gaussian_denoised_psnr_db": "PSNR of denoise() on those noisy images, dB",
    "probe100_accuracy_pct": "logistic regression on the codes of 100 training images per "
    "class, scored on the test set, %",
    "pixels_probe100_accuracy_pct": "the same classifier on raw pixels (reference), %",
    "recon_mse": "mean squared error of decode(encode(x)) on the test set, per value (own "
    "data: in the units the model trains in, pixels in [0, 1] or the min-max scaled table)",
    "recon_r2": "fraction of the test data's variance the reconstruction explains (1 = "
    "perfect, 0 = no better than the mean)",
    "lines_mean_distance": "ACAI Mean Distance: cosine distance of each interpolated frame "
    "to its nearest true line, mean over 16 pairs x 16 steps (lower is better)",
    "lines_smoothness": "ACAI Smoothness: largest angle step over the total angle change "
    "minus 1/15, mean over the 16 pairs (0 = perfectly even; lower is better)",
    **{
        f"bsd68_{m}_sigma{s}": f"BSD68 at sigma {s} (noise not clipped), mean {what} over the images"
        for s in (15, 25, 50)
        for m, what in (("psnr_db", "PSNR in dB"), ("ssim", "SSIM (scikit-image)"))
    },
    "lines_undefined_pairs": "pairs whose decoded ends match the same line (smoothness "
    "undefined, counted as 0)",
}
_FIGURE_TEXT = {
    "filters.png": "First-layer filters (rows of W1, each scaled to its own range).",
    "reconstructions.png": "Test inputs (top), with 25% of the values masked to the "
    "background (middle), "
    "denoised (bottom).",
    "interpolation.png": "Decoded interpolations between pairs of test images.",
    "test_reconstructions.png": "Held-out test images (top) and decode(encode(x)) (bottom); "
    "colour images are shown as the mean of their channels.",
    "training_curves.png": "Training loss and validation measures per epoch, each divided by "
    "its largest value (given in the legend); grey lines mark a new training stage.",
    "unit_selectivity.png": "Decoder atoms (columns of D). Row c, left: the five units most "
    "selective for class c (share of their mean test-set activity that class c draws), the "
    "paper's categorical units (prototypes of one class); right (five per row): the 50 least "
    "selective live units, candidates for the paper's part units (deformations shared by "
    "many classes).",
    "step_activity.png": "Activity over the unrolled steps t = 1..T on the test set, each "
    "curve divided by its value at t = T: the mean code norm ||z_t||, and the summed "
    "activity of the most (categorical) and least (part) class-selective quarter of the "
    "live units. The paper reports that part units are driven by the input from the "
    "first step while categorical units build up through the recurrence (arXiv:1301.3775, "
    "abstract and analysis); the curves show how far this model does the same.",
}


_FAMILY_FIGURE_TEXT = {
    ("lista", "filters.png"): "Dictionary atoms: the columns of the decoder D (for the NL "
    "decoder, of its output layer W2), each scaled to its own range.",
    ("lista-denoiser", "filters.png"): "The dictionary C: the K filters that build the "
    "output from the sparse feature maps, each scaled to its own range.",
    ("lista-denoiser", "denoised.png"): "A BSD68 crop: clean, with white Gaussian noise of "
    "sigma 25 (not clipped; shown clipped), denoised.",
    ("lista-denoiser", "training_curve.png"): "Training loss (MSE, 0-1 scale) and validation "
    "PSNR at sigma 25 (held-out Train400 crops), each divided by its largest value, at every "
    "logged step.",
}


def _eval_results(name: str, metrics: Mapping[str, Any], dataset: str) -> list[EvalResult]:
    results = []
    for key, value in metrics.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            results.append(
                EvalResult(
                    task_type="feature-extraction",
                    dataset_type=dataset,
                    dataset_name=dataset.upper(),
                    metric_type=key,
                    metric_name=key,
                    metric_value=round(float(value), 6),
                )
            )
    return results


def render_card(
    name: str,
    config: ModelConfig,
    training: Mapping[str, Any],
    export_record: Mapping[str, Any],
    figures: Sequence[str],
    body: str = "",
    score: str | None = None,
) -> str:
    """Markdown model card with a YAML front matter the Hugging Face Hub understands;
    ``score`` is the markdown of its "Anomaly score" section (:func:`score_section`)."""
    metrics: Mapping[str, Any] = training.get("metrics", {})
    dataset = training.get("dataset", "mnist")
    if dataset == "user":  # the user's own data: its name (hf:NAME -> NAME), never "user"
        source = str(training.get("data", {}).get("source", "own data"))
        dataset = source[3:].split(":")[0] if source.startswith("hf:") else Path(source).name
    data = ModelCardData(
        library_name="aezoo",
        license="apache-2.0",
        pipeline_tag="feature-extraction",
        tags=["aezoo", "autoencoder", config.family, "onnx"],
        datasets=[dataset],
        metrics=sorted(k for k, v in metrics.items() if isinstance(v, (int, float))),
        model_name=name,
        eval_results=_eval_results(name, metrics, dataset) or None,
    )
    lines = [f"---\n{data.to_yaml()}\n---", f"# {name}", ""]
    lines.append(_FAMILY_TEXT.get(config.family, config.family))
    if config.denoiser is not None:
        lines += _denoiser_use(name, config)
    else:
        lines += _use(name, config)
    lines += [
        "",
        "## Architecture",
        "",
        "```json",
        _json(config.model_args),
        "```",
    ]
    if metrics:
        lines += ["", "## Evaluation", "", "| metric | value | meaning |", "|---|---|---|"]
        lines += [f"| {k} | {_fmt(v)} | {_METRIC_TEXT.get(k, '')} |" for k, v in metrics.items()]
        if training.get("protocol"):
            lines += ["", f"Protocol: {training['protocol']}"]
    if body:
        lines += ["", body.strip()]
    if figures:
        lines += ["", "## Figures", ""]
        for f in figures:
            text = _FAMILY_FIGURE_TEXT.get((config.family, f), _FIGURE_TEXT.get(f, ""))
            lines += [f"![{f}](figures/{f})", "", text, ""]
    parity = export_record.get("parity_max_abs_error", {})
    if parity:
        worst = max(e for graph in parity.values() for e in graph.values())
        lines += [
            "",
            "## Export",
            "",
            f"ONNX opset {export_record.get('opset')}; onnxruntime vs torch max abs error "
            f"{worst:.2e} at "
            + (
                f"batch sizes {export_record['parity_batch_sizes']} "
                if "parity_batch_sizes" in export_record
                else f"(N, H, W) = {export_record.get('parity_shapes')} "
            )
            + f"(tolerance {export_record.get('parity_atol')}).",
        ]
    if score is not None:
        lines += ["", "## Anomaly score", "", score.strip()]
    if training.get("command"):
        lines += ["", "## Reproduce", "", "```bash", str(training["command"]), "```"]
    return "\n".join(lines).rstrip() + "\n"


def _use_header(name: str) -> list[str]:
    return [
        "",
        "## Use",
        "",
        "```python",
        "import aezoo",
        f'model = aezoo.load("{name}")      # onnxruntime, no torch',
    ]


def _use(name: str, config: ModelConfig) -> list[str]:
    spec = config.input
    return [
        *_use_header(name),
        f"codes = model.encode(X)          # X: (batch, {spec.n_features}) float32 "
        + (
            f"in [{spec.value_range[0]:g}, {spec.value_range[1]:g}]"
            if spec.bounded
            else "(any finite values, in the table's own units)"
        ),
        "```",
        "",
        f"Operations: {', '.join(config.operations)}. Input: {spec.n_features} values"
        + (f" ({'x'.join(map(str, spec.shape))})" if spec.shape else "")
        + f", {spec.preprocessing}. Code width: {config.n_components}.",
    ]


def _denoiser_use(name: str, config: ModelConfig) -> list[str]:
    d = config.denoiser
    assert d is not None
    lo, hi = d.sigma_range
    return [
        *_use_header(name),
        f"clean = model.denoise_image(image, sigma={25 if lo <= 25 <= hi else lo:g})"
        "  # HxW or HxWx3, uint8 or float",
        "```",
        "",
        f"The graph `onnx/denoiser.onnx` takes `noisy` float32 (N, 1, H, W) on the uint8/255 "
        f"scale (not clipped) and `sigma` float32 (N,), the noise standard deviation on the "
        f"0-255 scale, within [{lo:g}, {hi:g}]; it returns `denoised` (N, 1, H, W). Any "
        f"H, W >= {d.min_size}; receptive-field radius (halo) {d.halo} pixels; colour "
        f"images {d.color.replace('_', ' ')}. Filters: {config.n_components}.",
        *(
            [
                "",
                f"**One noise level only.** This model was trained at sigma {lo:g} and refuses "
                f"every other noise level: `denoise_image(..., sigma=s)` raises `InputError` "
                f"and HTTP answers 422, both naming the range [{lo:g}, {hi:g}]. For other "
                "levels use a model trained for them.",
            ]
            if lo == hi
            else []
        ),
    ]


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _json(obj: Any) -> str:
    return json.dumps(obj, indent=2)


def score_section(
    score_text: str,
    calibration: Mapping[str, Any] | None,
    held_out: tuple[str, int, int] | None = None,
) -> str:
    """The card's "Anomaly score" section.

    Args:
        score_text: the family's score formula and source
            (:data:`aezoo.models.score.SCORE_TEXT`).
        calibration: ``calibration.json`` as a dict, or None for a model without one.
        held_out: ``(what, outliers, rows)``: the rows of a second held-out normal set that
            the threshold flags, measured when the card was written.
    """
    lines = [
        "```python",
        "result = model.score(X)  # scores (batch,), higher = more anomalous",
        "```",
        "",
        f"Score: {score_text}, from `onnx/scorer.onnx` (also per-feature contributions).",
    ]
    if calibration is None:
        lines += ["", "No calibration: scores only, no threshold (`aezoo calibrate` sets one)."]
        return "\n".join(lines)
    target = (
        f"false-positive rate {calibration['fpr']:g}"
        if calibration.get("fpr") is not None
        else f"contamination {calibration['contamination']:g}"
    )
    lines += [
        "",
        f"Threshold {calibration['threshold']:.6g} (`is_outlier = score > threshold`), set at "
        f"a {target} by the split-conformal quantile of the scores of "
        f"{calibration['rows']:,} held-out normal rows"
        + (f": {calibration['source']}" if calibration.get("source") else "")
        + f" (sha256 of the float32 rows {str(calibration['data_sha256'])[:16]}...; "
        "`calibration.json` also holds the p-value table).",
    ]
    if held_out is not None:
        what, k, n = held_out
        lines += [
            "",
            f"Measured on {what}: {k} of {n:,} rows above the threshold "
            f"({100.0 * k / n:.2f}% false positives).",
        ]
    return "\n".join(lines)
