/**
 * The mocha globals that web-test-runner provides in the browser (the project does not install
 * `@types/mocha` for so few names).
 */
type MochaDone = () => void | Promise<void>
/** `this` in a test: `this.timeout(ms)` gives a long test more than the configured bound. */
interface MochaContext {
  timeout(ms: number): void
}

declare function describe(title: string, fn: () => void): void
declare function it(title: string, fn: (this: MochaContext) => void | Promise<void>): void
declare function before(fn: MochaDone): void
declare function after(fn: MochaDone): void
declare function beforeEach(fn: MochaDone): void
declare function afterEach(fn: MochaDone): void
