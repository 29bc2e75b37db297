from pconv.evaluator import store
from pconv.evaluator.evaluate import plan_work
from pconv.evaluator.grids import INPUT, TARGET


def test_a_fresh_run_plans_everything():
    plan = plan_work([0, 1, 2], ["telea"], shown={1}, scored=set(), featured=set(), drawn=set())
    assert plan.pairs == (0, 1, 2) and plan.shown == {1}
    assert plan.run == {"telea": {0, 1, 2}, store.REAL: {0, 1, 2}}
    assert plan.scores == {("telea", 0), ("telea", 1), ("telea", 2)}
    assert plan.features == plan.scores | {(store.REAL, 0), (store.REAL, 1), (store.REAL, 2)}


def test_a_finished_run_plans_nothing():
    done = {(name, pair) for name in ("telea", store.REAL) for pair in (0, 1)}
    drawn = {(name, 1) for name in ("telea", INPUT, TARGET)}
    plan = plan_work([0, 1], ["telea"], shown={1}, scored=done, featured=done, drawn=drawn)
    assert plan.pairs == () and plan.run == {"telea": set(), store.REAL: set()}
    assert not plan.scores and not plan.features and not plan.shown


def test_without_features_the_ground_truth_is_not_run():
    plan = plan_work([0], ["telea"], shown=set(), scored=set(), featured=None, drawn=set())
    assert plan.run == {"telea": {0}} and plan.features == frozenset()


def test_a_missing_sample_reruns_the_method_without_rescoring_it():
    scored = {("telea", 0), ("ns", 0)}
    drawn = {("ns", 0), (INPUT, 0), (TARGET, 0)}
    plan = plan_work([0], ["telea", "ns"], shown={0}, scored=scored, featured=None, drawn=drawn)
    assert plan.run == {"telea": {0}, "ns": set()}
    assert plan.scores == frozenset() and plan.shown == {0}


def test_a_missing_input_sample_alone_loads_the_pair():
    scored = {("telea", 0)}
    plan = plan_work(
        [0], ["telea"], shown={0}, scored=scored, featured=None, drawn={("telea", 0), (TARGET, 0)}
    )
    assert plan.pairs == (0,) and plan.run == {"telea": set()} and plan.shown == {0}


def test_only_this_shards_pairs_are_planned():
    plan = plan_work([2, 3], ["telea"], shown=set(), scored={("telea", 2)}, featured=None, drawn=set())
    assert plan.pairs == (3,) and plan.scores == {("telea", 3)}
