"""Formats JSON documents as the Azure CLI does (knack's formatters and JMESPath query),
for berth's output tests. Reads [{"value", "query", "format"}] on stdin, prints a JSON list
of the texts az would print."""

import json
import sys
from collections import OrderedDict

import jmespath
from knack.output import format_json, format_table, format_tsv, format_yaml
from knack.util import CommandResultItem

FORMATS = {"json": format_json, "tsv": format_tsv, "table": format_table, "yaml": format_yaml}

texts = []
for case in json.load(sys.stdin):
    result = case["value"]
    if case["query"]:
        result = jmespath.compile(case["query"]).search(result, jmespath.Options(OrderedDict))
    item = CommandResultItem(result, is_query_active=bool(case["query"]))
    # knack prints nothing for a null result.
    texts.append("" if result is None else FORMATS[case["format"]](item))
print(json.dumps(texts))
