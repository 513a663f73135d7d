"""HTML renderings of reports and model cards: generic tables plus the inline SVG charts."""

import json
from html import escape
from typing import Any

from .charts import line_chart

STYLE = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto}table{border-collapse:collapse;margin:.5em 0}"
         "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px;vertical-align:top}pre{font-size:11px}")


def _cell(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return escape(json.dumps(value, sort_keys=True)) if value else ""
    return escape("" if value is None else str(value))


def table(rows: list[dict[str, Any]], empty: str = "None in this period.") -> str:
    if not rows:
        return f'<p class="empty">{escape(empty)}</p>'
    columns = list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(row.get(c))}</td>" for c in columns) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>")


def monthly_charts(report: dict[str, Any]) -> str:
    drift = report["drift_incidents"]
    fairness = report["fairness"]
    labels = [f"{r['model']} v{r['version'] or '?'}" for r in fairness]
    return "".join([
        line_chart("Drift share over time", {"drift share": [d["drift_share"] for d in drift]},
                   [d["time"][:10] for d in drift]),
        line_chart("Fairness and primary metric across versions", {
            "demographic parity diff": [r["demographic_parity_difference"] for r in fairness],
            "equalized odds diff": [r["equalized_odds_difference"] for r in fairness],
            "primary metric": [r["primary_value"] or 0.0 for r in fairness],
        }, labels),
    ])


def monthly_html(report: dict[str, Any]) -> str:
    models, provenance, checkpoints = report["models"], report["data_provenance"], report["checkpoints"]
    sections = [f"<p><b>{escape(report['summary'])}</b></p><p>Report SHA-256: <code>{report['sha256']}</code></p>"]
    for name in ("trained", "training_failed", "promoted", "rolled_back", "declined", "deployed"):
        sections.append(f"<h2>Models {escape(name.replace('_', ' '))}</h2>{table(models[name])}")
    sections.append(f"<h2>Drift incidents and what followed</h2>{table(report['drift_incidents'])}")
    sections.append(f"<h2>Fairness per version</h2>{table(report['fairness'])}")
    sections.append(f"<h2>Data provenance</h2>{table(provenance['datasets'])}"
                    f"<h3>Rejected uploads</h3>{table(provenance['rejected'])}")
    sections.append(f"<h2>Consent revocations</h2><p>{escape(report['consent_revocations']['note'])}</p>")
    sections.append(f"<h2>Charts</h2>{monthly_charts(report)}")
    notes = "".join(f"<h3>{edge}</h3><pre>{escape(c['note']) if c else 'no checkpoint had been issued'}</pre>"
                    for edge, c in (("start", checkpoints["start"]), ("end", checkpoints["end"])))
    proof = checkpoints["consistency_proof"]
    sections.append(f"<h2>Signed checkpoints</h2>{notes}<h3>Consistency proof</h3>"
                    f"<pre>{escape(json.dumps(proof, indent=1)) if proof else 'none'}</pre>")
    return _page(f"Conveyor compliance report {report['month']}", "".join(sections))


def card_html(card: dict[str, Any]) -> str:
    details = card["model_details"]
    body = [f"<p>{escape(details['overview'])}</p><p>Card SHA-256: <code>{card['sha256']}</code></p>"]
    for key in ("model_parameters", "quantitative_analysis", "considerations", "lineage"):
        body.append(f"<h2>{escape(key.replace('_', ' ').title())}</h2><pre>{escape(json.dumps(card[key], indent=1))}"
                    "</pre>")
    body.append(f"<h2>Deployment history</h2>{table(card['deployment_history'], 'Never promoted or deployed.')}")
    return _page(f"Model card: {details['name']} v{details['version']['name']}", "".join(body))
