"""Beam's DaskRunner with a bounded number of partitions after each shuffle.

Beam 2.77's DaskRunner translates ``Flatten`` to ``dask.bag.concat`` (the
partitions of all inputs add up) and ``GroupByKey`` to ``Bag.groupby``, which
keeps its input's partition count. Every ``CoGroupByKey`` is a Flatten and a
GroupByKey, so partition counts add up along the graph: the sample run (about
50 articles) ended with 693 partitions and 32,459 tasks, and each extra join
input multiplied the tail. Here a GroupByKey's output has at most
``2 x the cluster's threads`` partitions (at least 2), and so has a
Flatten's (repartitioned when its inputs add up to more): the same sample is
about 2,300 tasks with the first bound alone. The grouping itself is unchanged (same keys, same values,
windows as Beam's own translation).

``--runner DaskRunner`` on the command line means this class
(``pipeline.cli.RUNNER_ALIASES``).
"""

from __future__ import annotations

from typing import Any

from apache_beam.runners.dask import dask_runner, transform_evaluator
from apache_beam.runners.dask.overrides import _Flatten, _GroupByKeyOnly, dask_overrides

MIN_PARTITIONS = 2


def _bounded_group_by_key(limit: int) -> type[transform_evaluator.GroupByKey]:
    class BoundedGroupByKey(transform_evaluator.GroupByKey):
        def apply(self, input_bag: Any, side_inputs: Any = None) -> Any:
            def key(item: Any) -> Any:
                return item[0]

            def value(item: Any) -> Any:
                k, v = item
                return k, [transform_evaluator.defenestrate(elm[1]) for elm in v]

            return input_bag.groupby(key, npartitions=min(limit, input_bag.npartitions)).map(value)

    return BoundedGroupByKey


def _bounded_flatten(limit: int) -> type[transform_evaluator.Flatten]:
    class BoundedFlatten(transform_evaluator.Flatten):
        def apply(self, input_bag: Any, side_inputs: Any = None) -> Any:
            bag = super().apply(input_bag, side_inputs)
            # concat adds its inputs' partitions up; every step downstream is a task per partition
            return bag.repartition(npartitions=limit) if bag.npartitions > limit else bag

    return BoundedFlatten


def partition_limit(threads_per_worker: dict[str, int]) -> int:
    return max(MIN_PARTITIONS, 2 * sum(threads_per_worker.values()))


class DaskRunner(dask_runner.DaskRunner):
    """``dask_runner.DaskRunner.run_pipeline``, translating GroupByKey with a partition limit."""

    def run_pipeline(self, pipeline: Any, options: Any) -> dask_runner.DaskRunnerResult:
        import dask
        import dask.distributed as ddist

        dask_options = options.view_as(dask_runner.DaskOptions).get_all_options(drop_default=True,
                                                                                 current_only=True)
        bag_kwargs = dask_runner.DaskOptions._extract_bag_kwargs(dask_options)
        client = ddist.Client(**dask_options)
        pipeline.replace_all(dask_overrides())
        translations = transform_evaluator.TRANSLATIONS
        original = dict(translations)
        limit = partition_limit(client.nthreads())
        # The visitor reads the module's table; it is restored before anything else can build a graph.
        translations[_GroupByKeyOnly] = _bounded_group_by_key(limit)
        translations[_Flatten] = _bounded_flatten(limit)
        try:
            visitor = self.to_dask_bag_visitor(bag_kwargs)
            pipeline.visit(visitor)
        finally:
            translations.clear()
            translations.update(original)
        graph = dask.optimize(list(visitor.bags.values())[-1])
        return dask_runner.DaskRunnerResult(client, client.compute(graph))
