"""A deployment shows up as spans under the consumer span, and the trace continues into ModelDeployed."""

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Envelope, topics
from conveyor_kernel.memory import InMemoryBus
from conveyor_serving import handlers as handlers_module
from conveyor_serving.settings import ServingSettings
from conveyor_serving.wiring import create_app


async def test_load_and_swap_spans_are_children_of_the_consumer_span(models, monkeypatch):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()  # local: the process-wide provider other tests rely on stays untouched
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    monkeypatch.setattr(handlers_module, "tracer", tracer)
    bus = InMemoryBus(source="serving")
    app = create_app(ServingSettings(data_dir=models.data_dir, grpc_port=0), transport=bus)
    handle = app.state.handlers[ev.ModelPromoted]
    promotion = ev.ModelPromoted(model_name="cancer", version=1, artifact_uri=models.v1_uri)

    with tracer.start_as_current_span("consume ModelPromoted") as consumer_span:
        await handle(promotion, Envelope(type="x", source="registry", subject="cancer"))

    spans = {span.name: span for span in exporter.get_finished_spans()}
    consumer = consumer_span.get_span_context()
    assert spans["deploy model"].parent.span_id == consumer.span_id
    deploy_id = spans["deploy model"].context.span_id
    assert spans["load model"].parent.span_id == deploy_id
    assert spans["swap champion"].parent.span_id == deploy_id
    assert spans["deploy model"].attributes["conveyor.model_version"] == 1
    (record,) = bus.on(topics.DEPLOYMENTS)
    traceparent = Envelope.from_headers(record.headers).traceparent
    assert traceparent.split("-")[1] == format(consumer.trace_id, "032x")


def test_infer_is_traced_when_the_caller_sends_traceparent_and_sampled_otherwise(make_serving, models, monkeypatch):
    from conveyor_serving import api as api_module

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(api_module, "tracer", provider.get_tracer("test"))
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    body = {"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP32", "data": models.X[0].tolist()}]}

    with make_serving(trace_sample_ratio=0.0) as harness:
        harness.promote("cancer", 1, models.v1_uri)
        harness.client.post("/v2/models/cancer/infer", json=body)
        assert exporter.get_finished_spans() == ()  # no caller trace, ratio 0: no span at all
        harness.client.post("/v2/models/cancer/infer", json=body,
                            headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
    with make_serving(trace_sample_ratio=1.0) as harness:
        harness.promote("cancer", 1, models.v1_uri)
        harness.client.post("/v1/models/cancer:predict", json={"instances": [models.X[0].tolist()]})

    continued, root = exporter.get_finished_spans()
    assert format(continued.context.trace_id, "032x") == trace_id
    assert continued.parent.span_id == 0x00F067AA0BA902B7
    assert continued.attributes["conveyor.model_name"] == "cancer"
    assert root.parent is None and root.attributes["http.route"] == "/v1/models/cancer:predict"


def test_a_versions_first_logged_batch_continues_its_deployments_trace(make_serving, models, monkeypatch):
    from conveyor_serving import prediction_log as log_module

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(handlers_module, "tracer", provider.get_tracer("test"))
    monkeypatch.setattr(log_module, "tracer", provider.get_tracer("test"))

    with make_serving() as harness:
        harness.promote("cancer", 1, models.v1_uri)
        assert harness.infer(models.X[:2], request_id="first").status_code == 200
        harness.client.portal.call(harness.serving.log.flush)
        assert harness.infer(models.X[:1], request_id="later").status_code == 200
        harness.client.portal.call(harness.serving.log.flush)
        first_batch, later_batch = harness.bus.on(topics.PREDICTIONS)

    spans = {span.name: span for span in exporter.get_finished_spans()}
    deploy, first = spans["deploy model"], spans["first prediction"]
    assert first.parent.span_id == deploy.context.span_id
    assert first.context.trace_id == deploy.context.trace_id
    assert first.attributes["conveyor.request_id"] == "first"
    assert first.attributes["conveyor.model_version"] == 1
    deploy_trace = format(deploy.context.trace_id, "032x")
    assert Envelope.from_headers(first_batch.headers).traceparent.split("-")[1] == deploy_trace
    # once only: the next batch of the same version is not part of the deployment's trace
    later = Envelope.from_headers(later_batch.headers).traceparent
    assert not later or later.split("-")[1] != deploy_trace
    assert [s.name for s in exporter.get_finished_spans()].count("first prediction") == 1
