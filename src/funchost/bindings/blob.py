"""The blob input and output bindings."""

from __future__ import annotations

from azure.functions import meta

from funchost.app.invocation import Invocation
from funchost.app.model import BindingSpec
from funchost.bindings.binders import Binders, datum_bytes
from funchost.bindings.expressions import split_blob_path
from funchost.storage.roles import BlobStore


async def read_input(binding: BindingSpec, invocation: Invocation, binders: Binders) -> meta.Datum:
    container, name = split_blob_path(binders.resolve(binding, "path", invocation))
    provider = binders.resolver.resolve(BlobStore, binding.setting("connection"))
    found = await provider.get_blob(container, name)
    if found is None:
        return meta.Datum(None, None)  # a missing input blob is None, as in the real host
    data, _ = found
    if binding.data_type == "string":
        return meta.Datum(data.decode("utf-8"), "string")
    return meta.Datum(data, "bytes")


async def write_output(binding: BindingSpec, value: meta.Datum, invocation: Invocation, binders: Binders) -> None:
    container, name = split_blob_path(binders.resolve(binding, "path", invocation))
    provider = binders.resolver.resolve(BlobStore, binding.setting("connection"))
    await provider.put_blob(container, name, datum_bytes(value))
