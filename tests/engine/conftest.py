"""Stand-ins shared by the engine's tests."""
import pytest


@pytest.fixture()
def fake_data_sink():
    """`fake_data_sink(calls)`: a stand-in for mindspore.data_sink (Ascend/GPU only): one step per call on the next
    batch of an iterator that runs on across epochs, as the device queue does; records its calls."""
    def make(calls):
        def factory(step, dataset):
            batches = dataset.create_tuple_iterator(num_epochs=-1, output_numpy=False)

            def one_step():
                calls.append("step")
                try:
                    batch = next(batches)
                except StopIteration:  # a MindSpore iterator ends each epoch so; the next next() starts the next one
                    batch = next(batches)
                return step(*batch)
            return one_step
        return factory
    return make
