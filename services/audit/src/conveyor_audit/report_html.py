"""HTML a compliance officer reads: tables and inline SVG charts, summary first; never JSON in a cell
(a list is a bullet list, a record a few "name: value" lines). The PDF is this page, printed."""

from html import escape
from typing import Any

from .charts import line_chart

STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
         "table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:3px 6px;"
         "font-size:12px;vertical-align:top;text-align:left}th{background:#f3f3f3}ul{margin:0;padding-left:1.1em}"
         ".missing{color:#b00020;font-weight:bold}.declared{color:#8a5a00}.auto{color:#1b5e20}"
         "code{font-size:11px;word-break:break-all}h2{border-bottom:2px solid #ddd;margin-top:1.6em}"
         "@page{size:A4 landscape;margin:12mm}"
         "@media print{table{table-layout:fixed;width:100%}}")  # fixed layout: WeasyPrint draws tables ~30% faster
STATUS_CLASS = {"auto-evidenced": "auto", "declared": "declared", "missing": "missing"}


def cell(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "&mdash;"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "<ul>" + "".join(f"<li>{cell(v)}</li>" for v in value) + "</ul>"
    if isinstance(value, dict):
        return "<br>".join(f"{escape(str(k).replace('_', ' '))}: {cell(v)}" for k, v in value.items())
    return escape(str(value))


def table(rows: list[dict[str, Any]], columns: list[str] | None = None, empty: str = "None in this period.") -> str:
    if not rows:
        return f'<p class="empty">{escape(empty)}</p>'
    columns = columns or list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{escape(c.replace('_', ' '))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(row.get(c))}</td>" for c in columns) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>")


def series_chart(title: str, rows: list[dict[str, Any]], key: str) -> str:
    """One line per (key value, source) against the threshold where the rows carry one."""
    if not rows:
        return f'<p class="empty">{escape(title)}: no data in this period.</p>'
    labels = [r["time"][5:16].replace("T", " ") for r in rows]
    series: dict[str, list[float]] = {}
    for n, row in enumerate(rows):
        name = f"{row.get(key)} ({row['source']})"
        series.setdefault(name, [float("nan")] * len(rows))[n] = float(row["value"])
    thresholds = [r.get("threshold") for r in rows]
    if any(t is not None for t in thresholds):
        series["threshold"] = [float(t) if t is not None else float("nan") for t in thresholds]
    return line_chart(title, series, labels)


def coverage_table(rows: list[dict[str, Any]]) -> str:
    body = []
    for row in rows:
        status = row["status"]
        detail = (f"declared by {escape(row['declared_by'])} at {escape(row['declared_at'])}: {escape(row['text'])}"
                  if status == "declared" else escape(row.get("to_fix", "")) if status == "missing" else
                  "ledger entries " + ", ".join(str(i) for i in row["ledger_indexes"]))
        body.append(f"<tr><td>{escape(row['point'])}</td><td>{escape(row['title'])}</td>"
                    f"<td class='{STATUS_CLASS[status]}'>{escape(status)}</td><td>{detail}</td></tr>")
    return "<table><tr><th>point</th><th>what</th><th>status</th><th>evidence</th></tr>" + "".join(body) + "</table>"


def model_html(m: dict[str, Any]) -> str:
    promotions = [{**p, "gates": [f"{g['result']}: {g['gate']}" for g in p["gates"]]} for p in m["promotions"]]
    return "".join([
        f"<h2>Model {escape(m['model'])}</h2>",
        "<h3>What served when</h3>", table(m["served"], ["version", "from", "until", "how", "ledger_index"]),
        "<h3>Canary and shadow splits</h3>", table(m["traffic_splits"]),
        "<h3>Promotion decisions</h3>", table(promotions, ["ledger_index", "time", "version", "previous_version",
                                                           "requester", "approvers", "policy_digest", "gates"]),
        "<h3>Rollbacks</h3>", table(m["rollbacks"]),
        "<h3>Incidents and what followed</h3>", table(m["incidents"]),
        "<h3>Fairness over time</h3>", series_chart(f"{m['model']}: demographic parity difference",
                                                    m["fairness_series"], "attribute"),
        table(m["fairness_series"], empty="No fairness measurement in this period."),
        "<h3>Performance over time</h3>", series_chart(f"{m['model']}: performance", m["performance_series"],
                                                       "metric"),
        table(m["performance_series"], empty="No performance measurement in this period."),
        "<h3>Consent</h3>", table(m["consent"]["flagged_versions"], empty="No version flagged."),
        table(m["consent"]["retrains"], empty="No retrain caused by a withdrawal."),
        "<h3>Trainings</h3>", table(m["trainings"]),
        "<h3>Coverage: EU AI Act Annex IV</h3>", coverage_table(m["coverage"]["eu_ai_act_annex_iv"]),
        "<h3>Coverage: model card (Mitchell et al.)</h3>", coverage_table(m["coverage"]["model_card"]),
    ])


def monthly_html(report: dict[str, Any]) -> str:
    s, consent, evidence = report["summary"], report["consent"], report["evidence"]
    summary = [
        {"what": "models in production at the end", "value": [f"{m['model']} v{m['version']}"
                                                               for m in s["models_in_production"]]},
        {"what": "changes (promotions, rollbacks, splits)", "value": s["changes"]},
        {"what": "incidents (drift, fairness, performance)", "value": s["incidents"]},
        {"what": "open consent debt (flagged versions still serving)",
         "value": [f"{d['model']} v{d['version']}" for d in s["open_consent_debt"]] or "none"},
        {"what": "ledger entries in the period", "value": s["ledger_entries"]},
    ]
    checkpoints = [{"edge": edge, "size": c["size"] if c else 0, "issued_at": c["issued_at"] if c else "",
                    "root": c["root"] if c else "the empty tree"}
                   for edge, c in (("start", evidence["start"]), ("end", evidence["end"]))]
    lineage = report["lineage"]
    sections = [
        f"<p>{'DRAFT: the month is not over; this report is neither stored nor ledgered. ' if report['draft'] else ''}"
        f"Period {escape(report['period']['start'])} to {escape(report['period']['end'])}. "
        f"Report SHA-256 <code>{report['sha256']}</code>, signed by <code>{escape(report['public_key'])}</code>; "
        "check it offline with <code>conveyor report verify FILE --key KEY</code>.</p>",
        "<h2>Summary</h2>", table(summary, ["what", "value"]),
        *(model_html(m) for m in report["models"]),
        "<h2>Consent</h2>", table([{"state": k, "records": v} for k, v in consent["records"].items()]),
        "<h3>Erasures</h3>", table(consent["erasures"], empty="No erasure in this period."),
        "<h3>Retrains caused by withdrawals</h3>", table(consent["retrains"], empty="None."),
        "<h2>Data provenance</h2>", table(report["data_provenance"]["datasets"]),
        "<h3>Rejected uploads</h3>", table(report["data_provenance"]["rejected"]),
        f"<h2>Lineage completeness</h2><p>{lineage['complete']} of {lineage['total']} trainings have their dataset "
        "in the ledger, a registered version and a consent snapshot.</p>", table(lineage["trainings"]),
        f"<h2>Role-binding changes</h2><p class='missing'>{escape(report['role_bindings']['note'])}</p>",
        "<h2>Evidence</h2>", table(checkpoints),
        f"<p>{len(evidence['entries'])} listed entries, each with its inclusion proof under the end checkpoint, "
        "and the consistency proof between the checkpoints are in the JSON.</p>",
    ]
    return page(f"Conveyor compliance report {report['month']}", "".join(sections))


def card_html(card: dict[str, Any]) -> str:
    details = card["model_details"]
    considerations = card["considerations"]
    body = [f"<p>{escape(details['overview'])}</p><p>Card SHA-256: <code>{card['sha256']}</code></p>",
            "<h2>Model parameters</h2>", table(card["model_parameters"]["data"]),
            "<h2>Performance</h2>", table(card["quantitative_analysis"]["performance_metrics"]),
            "<h2>Fairness</h2>", table(card["quantitative_analysis"]["fairness"]),
            "<h2>Use cases</h2>", table(considerations["use_cases"], empty="Not declared."),
            "<h2>Limitations</h2>", table(considerations["limitations"], empty="Not declared."),
            "<h2>Ethical considerations</h2>", table(considerations["ethical_considerations"], empty="Not declared."),
            "<h2>Lineage</h2>", table([card["lineage"]]),
            "<h2>Deployment history</h2>", table(card["deployment_history"], empty="Never promoted or deployed.")]
    return page(f"Model card: {details['name']} v{details['version']['name']}", "".join(body))
