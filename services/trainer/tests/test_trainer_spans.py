"""The training stages show up as child spans of the consuming span, across the worker thread."""

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from conveyor_trainer import training
from conveyor_trainer.handlers import run_training
from conveyor_trainer.training import RunRequest


async def test_stage_spans_are_children_of_the_consumer_span(ports, make_dataset, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    exporter = InMemorySpanExporter()
    provider = TracerProvider()  # local, so the process-wide provider other tests rely on is untouched
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    monkeypatch.setattr(training, "tracer", tracer)
    with tracer.start_as_current_span("consume DatasetArrived") as parent:
        await run_training(ports, RunRequest(make_dataset(), "dataset_arrived"))
    spans = {span.name: span for span in exporter.get_finished_spans()}
    stages = ["train", "evaluate", "export onnx", "parity check"]
    assert set(stages) <= set(spans)
    parent_id = parent.get_span_context().span_id
    assert all(spans[name].parent is not None and spans[name].parent.span_id == parent_id for name in stages)
    assert spans["parity check"].attributes["conveyor.parity_max_abs_diff"] >= 0
