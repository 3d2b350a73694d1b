"""Retries of transient failures, against a tiny fake Firestore gRPC server on loopback
that fails on purpose (the emulator cannot be made to fail on demand)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.cloud.firestore_v1 import types

from asyncdb.drivers.base import WriteRequest
from asyncdb.drivers.firestore import FirestoreDriver
from asyncdb.drivers.firestore._codec import encode_document
from asyncdb.errors import BackendError, BackendUnavailableError
from tests.backends._process import free_port

SERVICE = "google.firestore.v1.Firestore"
_GetDocumentRequest = types.GetDocumentRequest.pb()
_Document = types.Document.pb()
_BatchWriteRequest = types.BatchWriteRequest.pb()
_BatchWriteResponse = types.BatchWriteResponse.pb()
_BatchGetDocumentsRequest = types.BatchGetDocumentsRequest.pb()
_BatchGetDocumentsResponse = types.BatchGetDocumentsResponse.pb()


@dataclass
class Script:
    """How the fake server answers: ``failures`` transient errors before succeeding."""

    failures: int = 0
    code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE
    calls: list[Any] = field(default_factory=list)


@pytest.fixture
async def fake() -> AsyncIterator[tuple[str, Script]]:
    script = Script()

    async def get_document(request: Any, context: grpc.aio.ServicerContext) -> Any:
        script.calls.append(request)
        if len(script.calls) <= script.failures:
            await context.abort(script.code, "injected")
        document = _Document(name=request.name)
        encode_document({"v": 1}, document.fields)
        document.update_time.seconds = 1_700_000_000
        return document

    async def batch_write(request: Any, context: grpc.aio.ServicerContext) -> Any:
        script.calls.append(request)
        response = _BatchWriteResponse()
        for index, _write in enumerate(request.writes):
            status = response.status.add()
            result = response.write_results.add()
            # The first write of the first call is refused as transient, once.
            if len(script.calls) == 1 and index == 0:
                status.code = grpc.StatusCode.UNAVAILABLE.value[0]
                status.message = "injected"
            else:
                result.update_time.seconds = 1_700_000_000 + len(script.calls)
        return response

    async def batch_get(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        # Only the index registry is read this way here: there is none (not counted).
        for name in request.documents:
            response = _BatchGetDocumentsResponse(missing=name)
            response.read_time.seconds = 1_700_000_000
            yield response

    def handler(fn: Callable[..., Any], request_type: Any) -> grpc.RpcMethodHandler:
        return grpc.unary_unary_rpc_method_handler(
            fn,
            request_deserializer=request_type.FromString,
            response_serializer=lambda message: message.SerializeToString(),
        )

    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                SERVICE,
                {
                    "GetDocument": handler(get_document, _GetDocumentRequest),
                    "BatchWrite": handler(batch_write, _BatchWriteRequest),
                    "BatchGetDocuments": grpc.unary_stream_rpc_method_handler(
                        batch_get,
                        request_deserializer=_BatchGetDocumentsRequest.FromString,
                        response_serializer=lambda message: message.SerializeToString(),
                    ),
                },
            ),
        )
    )
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    try:
        yield f"127.0.0.1:{port}", script
    finally:
        await server.stop(None)


def driver(host: str, max_retries: int) -> FirestoreDriver:
    return FirestoreDriver(
        project="demo-x",
        emulator_host=host,
        request_timeout=5.0,
        max_retries=max_retries,
        retry_base_delay=0.001,
    )


@pytest.mark.parametrize(
    "code",
    [
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.INTERNAL,
    ],
)
async def test_transient_failures_are_retried(fake: tuple[str, Script], code: Any) -> None:
    host, script = fake
    script.failures, script.code = 2, code
    subject = driver(host, max_retries=2)
    record = await subject.get("items", "a")
    assert record is not None and record.body == {"v": 1}
    assert len(script.calls) == 3
    await subject.aclose()


async def test_retries_are_bounded(fake: tuple[str, Script]) -> None:
    host, script = fake
    script.failures = 100
    subject = driver(host, max_retries=3)
    with pytest.raises(BackendUnavailableError):
        await subject.get("items", "a")
    assert len(script.calls) == 4
    await subject.aclose()


async def test_a_permanent_failure_is_not_retried(fake: tuple[str, Script]) -> None:
    host, script = fake
    script.failures, script.code = 100, grpc.StatusCode.INVALID_ARGUMENT
    subject = driver(host, max_retries=3)
    with pytest.raises(BackendError, match="injected") as caught:
        await subject.get("items", "a")
    assert not isinstance(caught.value, BackendUnavailableError)
    assert len(script.calls) == 1
    await subject.aclose()


async def test_bulk_writes_refused_as_transient_are_retried_alone(
    fake: tuple[str, Script],
) -> None:
    host, script = fake
    subject = driver(host, max_retries=2)
    outcomes = await subject.put_many(
        "items", [WriteRequest("a", {"v": 1}), WriteRequest("b", {"v": 2})]
    )
    assert [outcome.ok for outcome in outcomes] == [True, True]
    assert [len(call.writes) for call in script.calls] == [2, 1]
    assert outcomes[0].rev != outcomes[1].rev
    await subject.aclose()
