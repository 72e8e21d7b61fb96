"""Generated Python code of the gRPC API in ``protos/gpux/v1`` (package ``gpux.v1``).

Do not edit ``gpux/v1/*_pb2*.py``: run ``python -m exchange.proto.generate`` after
changing a ``.proto`` file and commit the result; a test fails when they are stale.
"""
