"""SOPs as data: validated definitions of each city's Standar Operasional Prosedur."""

from prokopim_sop.catalog import (
    SOP_DIR_ENV,
    SopCatalog,
    bundled_definitions_dir,
    load_catalog,
    version_key,
)
from prokopim_sop.errors import (
    DefinitionProblem,
    SopDefinitionError,
    SopError,
    UnknownRole,
    UnknownSop,
    UnknownStep,
)
from prokopim_sop.kinds import KIND_SERVICE, SERVICE_ORDER, Service, StepKind
from prokopim_sop.loader import load_sop
from prokopim_sop.sop import Sop
from prokopim_sop.step import Bilingual, Item, Role, Standard, Step

__all__ = [
    "KIND_SERVICE",
    "SERVICE_ORDER",
    "SOP_DIR_ENV",
    "Bilingual",
    "DefinitionProblem",
    "Item",
    "Role",
    "Service",
    "Sop",
    "SopCatalog",
    "SopDefinitionError",
    "SopError",
    "Standard",
    "Step",
    "StepKind",
    "UnknownRole",
    "UnknownSop",
    "UnknownStep",
    "bundled_definitions_dir",
    "load_catalog",
    "load_sop",
    "version_key",
]
