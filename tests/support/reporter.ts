/**
 * Mocha's spec reporter plus one closing line in the plain form CI reads:
 * "N passed, N failed, N skipped".
 */
import Mocha = require('mocha');

class GridReporter extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const s = runner.stats!;
      process.stdout.write(`\n${s.passes} passed, ${s.failures} failed, ${s.pending} skipped\n`);
    });
  }
}

export = GridReporter;
