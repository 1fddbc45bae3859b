"""The engine: a GGUF model in llama.cpp, steered by a control vector. Knows nothing of values.

Owns loading models (``engine``: :class:`Engine`, :func:`load_engine`), where model files come
from (``models``: the registry, PyPI fetches, sha256 checks), how llama.cpp runs on this host
(``runtime``: threads, OpenMP, the AMX probe), llama.cpp control-vector files
(``control_vector``) and the lock that lets a stream change threads (``locks``). The private
modules hold the second llama.cpp context for hidden states and scoring (``_batch``), shared-prefix
scoring (``_shared_prefix``, ``_text_scoring``), the control-vector slot (``_cvec``), chat
templates, generation options and the download and hash code.

May import: ``couple_lite.errors``, ``couple_lite._io``, ``couple_lite._paths``. Nothing above it.
"""

from .control_vector import read_control_vector, write_control_vector
from .engine import Engine, SteerScope, gpu_offload_available, load_engine
from .locks import OperationLock
from .models import default_model_name, local_model, model_identity, registry, resolve_model
from .runtime import default_threads

__all__ = [
    "Engine",
    "SteerScope",
    "load_engine",
    "gpu_offload_available",
    "read_control_vector",
    "write_control_vector",
    "OperationLock",
    "default_model_name",
    "local_model",
    "model_identity",
    "registry",
    "resolve_model",
    "default_threads",
]
