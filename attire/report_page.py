"""report.html: one self-contained page (pictures as data URIs, inline style, no network)."""

import base64
import html
import json
from datetime import datetime
from pathlib import Path

PICTURES_DIR = "pictures"   # where the pictures are, relative to the page; named in each caption

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #24292f; margin: 0;
       background: #f6f8fa; line-height: 1.45; }
main { max-width: 1100px; margin: 0 auto; padding: 24px; background: white; }
h1 { margin-bottom: 0; } h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 4px; margin-top: 40px; }
.subtitle { color: #57606a; margin-top: 4px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 20px 0; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: 10px 16px; flex: 1 1 120px; }
.card .value { font-size: 1.4em; font-weight: 600; white-space: nowrap; }
.card .name { color: #57606a; font-size: 0.9em; }
nav { columns: 2; margin: 12px 0; } nav a { color: #0969da; text-decoration: none; }
.note { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; padding: 8px 12px; }
figure { margin: 24px 0; } figure img { max-width: 100%; height: auto; border: 1px solid #d0d7de; }
figcaption { color: #57606a; margin-top: 6px; } figcaption b { color: #24292f; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #d0d7de; padding: 4px 12px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.config td { text-align: left; font-family: ui-monospace, monospace; font-size: 0.9em; }
"""


def render_page(run, pictures: list, test, n_parameters: int, seconds: float) -> str:
    """The page for a RunRecord, its Pictures and TestResults (see attire.report)."""
    metrics, config = run.metrics, run.config
    escape = html.escape
    train_seconds = metrics.get("train_seconds", sum(float(row.get("seconds") or 0) for row in run.history))
    cards = [("test accuracy", f"{metrics['accuracy']:.2%}"), ("test loss", f"{metrics['loss']:.4f}"),
             ("parameters", f"{n_parameters:,}"), ("training time", duration(train_seconds)),
             epochs_card(len(run.history), metrics.get("selected_epoch", len(run.history))),
             ("test images", f"{metrics.get('n_images', len(test.labels)):,}")]
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>attire report: {escape(run.dir.name)}</title>", f"<style>{STYLE}</style>", "</head>",
        "<body><main>",
        f"<h1>Training report: {escape(run.dir.name)}</h1>",
        f'<p class="subtitle">model <b>{escape(str(config.get("model")))}</b>, preset '
        f'<b>{escape(str(config.get("preset")))}</b>; report written {datetime.now():%Y-%m-%d %H:%M} '
        f"in {seconds:.1f} s from {escape(str(run.dir))}</p>",
        '<div class="cards">',
        *(f'<div class="card"><div class="value">{escape(value)}</div>'
          f'<div class="name">{escape(name)}</div></div>' for name, value in cards),
        "</div>",
        *(f'<p class="note">{escape(note)}</p>' for note in test.notes),
        "<nav><ol>",
        *(f'<li><a href="#{anchor(p.heading)}">{escape(p.heading)}</a></li>' for p in pictures),
        '<li><a href="#per-class-results">Per-class results</a></li>',
        '<li><a href="#configuration">Configuration</a></li>',
        "</ol></nav>",
    ]
    for picture in pictures:
        parts += [f'<h2 id="{anchor(picture.heading)}">{escape(picture.heading)}</h2>', "<figure>",
                  f'<img src="{data_uri(picture.path)}" alt="{escape(picture.heading)}">',
                  f"<figcaption>{escape(picture.caption)} "
                  f"<b>{escape(PICTURES_DIR + '/' + picture.path.name)}</b></figcaption>", "</figure>"]
    parts += ['<h2 id="per-class-results">Per-class results on the test set</h2>', per_class_table(metrics),
              '<h2 id="configuration">Configuration</h2>', config_table(config), "</main></body></html>"]
    return "\n".join(parts) + "\n"


def epochs_card(n_epochs: int, selected: int) -> tuple[str, str]:
    if selected == n_epochs:
        return "epochs", f"{n_epochs}"
    return f"epochs (the weights of epoch {selected}, the best on validation)", f"{n_epochs}"


def per_class_table(metrics: dict) -> str:
    rows = ["<table>", "<tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>images</th></tr>"]
    for row in metrics.get("per_class", []):
        rows.append(f"<tr><td>{html.escape(str(row['class']))}</td><td>{row['precision']:.3f}</td>"
                    f"<td>{row['recall']:.3f}</td><td>{row['f1']:.3f}</td><td>{row['support']:,}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def config_table(config: dict) -> str:
    rows = ['<table class="config">']
    for key in sorted(config):
        rows.append(f"<tr><td>{html.escape(key)}</td><td>{html.escape(json.dumps(config[key]))}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def anchor(heading: str) -> str:
    return "-".join(heading.lower().split())


def data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
