# A sample checked with mypy by test_stubs.py: the lines that end in an
# error mark must be flagged, and nothing else.

import qmachine
from qmachine import QMachine


def run(binary: str) -> int:
    vm = QMachine.Machine(binary)
    vm.add_args('-machine', 'none')
    vm.launch()
    try:
        status = vm.cmd('query-status')
        print(status['status'])
        event = vm.event_wait('STOP', timeout=1.5, match={'data': None})
        print(event['event'])
    except qmachine.CommandError as err:
        print(err.qmp_class, err.desc)
    except TimeoutError as err:
        print(err)
    finally:
        vm.shutdown(timeout=10)
    code = vm.exit_code
    return code if code is not None else -1


def bad(binary: str) -> None:
    vm = QMachine.Machine(binary)
    vm.event_wait('STOP', timeout='1')  # E: str is not a timeout
    x: str = vm.exit_code  # E: Optional[int]
