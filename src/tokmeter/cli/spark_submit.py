"""Run the tokmeter CLI inside the Spark session that ``spark-submit`` sets up, so ``--master``,
``--packages`` and every ``--conf`` apply to ``rollup --engine spark``::

    spark-submit --master yarn .../tokmeter/spark_submit.py rollup --engine spark --store s3://bucket/prefix

(``python -c 'import tokmeter.cli.spark_submit as m; print(m.__file__)'`` prints the path to give.)
"""

from __future__ import annotations

import sys


def main() -> None:
    from pyspark.sql import SparkSession

    session = SparkSession.builder.appName("tokmeter").getOrCreate()  # spark-submit's settings apply
    session.sparkContext.setLogLevel("ERROR")
    from tokmeter.cli import main as tokmeter_main

    sys.argv = ["tokmeter", *sys.argv[1:]]
    try:
        tokmeter_main()
    finally:
        session.stop()


if __name__ == "__main__":
    main()
