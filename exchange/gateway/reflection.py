"""gRPC server reflection under both names tools ask for: ``grpc.reflection.v1`` (what
grpcurl and current grpc-js tools try first) and ``grpc.reflection.v1alpha``.

grpcio-reflection ships only v1alpha. The v1 protocol is the same messages under another
package name, so one servicer answers both: the v1 method is registered with the v1alpha
message classes (the bytes are identical), and a copy of the v1alpha file descriptor,
renamed to v1, is added to the default descriptor pool so that reflection can describe
the v1 service too.
"""

from __future__ import annotations

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import _async, reflection_pb2, reflection_pb2_grpc

V1ALPHA = "grpc.reflection.v1alpha.ServerReflection"
V1 = "grpc.reflection.v1.ServerReflection"


def _add_v1_descriptor(pool: descriptor_pool.DescriptorPool) -> None:
    """Add ``grpc/reflection/v1/reflection.proto`` to ``pool`` (once): the v1alpha file
    with its package renamed."""
    name = "grpc/reflection/v1/reflection.proto"
    try:
        pool.FindFileByName(name)
        return
    except KeyError:
        pass
    old, new = ".grpc.reflection.v1alpha.", ".grpc.reflection.v1."
    file = descriptor_pb2.FileDescriptorProto.FromString(reflection_pb2.DESCRIPTOR.serialized_pb)
    file.name, file.package = name, "grpc.reflection.v1"
    for message in file.message_type:
        for field in message.field:
            if field.HasField("type_name"):
                field.type_name = field.type_name.replace(old, new)
    for service in file.service:
        for method in service.method:
            method.input_type = method.input_type.replace(old, new)
            method.output_type = method.output_type.replace(old, new)
    pool.Add(file)


def enable_reflection(server: grpc.aio.Server, service_names: list[str]) -> list[str]:
    """Serve reflection v1 and v1alpha on ``server`` for ``service_names`` (and for
    reflection itself); the names it lists."""
    _add_v1_descriptor(descriptor_pool.Default())
    names = [*service_names, V1, V1ALPHA]
    servicer = _async.ReflectionServicer(names)
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    v1 = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(V1, {"ServerReflectionInfo": v1}),))
    return names
