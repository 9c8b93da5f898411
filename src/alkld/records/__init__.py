"""Stage 1: case records (``cases/*.yaml``) as typed models, loaded with located errors."""

from alkld.records.loader import LoadedRecord, load_record, load_records, parse_record
from alkld.records.model import Case, CaseRecord, Publication

__all__ = ["Case", "CaseRecord", "LoadedRecord", "Publication", "load_record", "load_records",
           "parse_record"]
