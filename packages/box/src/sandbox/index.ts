/**
 * The sandboxed app runtime: third-party app code runs in QuickJS (WebAssembly) inside a worker
 * process of its own, one per app, with no ambient authority.
 *
 * The app's code is a classic script that declares a global `main(event)` (sync or async), e.g.
 * `async function main(event) { ... }`, or a bundle that sets `globalThis.main`. Each run gets a
 * fresh QuickJS runtime and context; main receives a JSON copy of the event, and its return value
 * (JSON-serialisable, or undefined) comes back as a JSON copy.
 *
 * Inside, besides the language's own built-ins, the app sees only:
 * - `coffer.call(method, argsJson) → Promise<string>`: one host call, answered by the run's
 *   HostCall with JSON text; a CofferError thrown by the host rejects it with an Error that has
 *   the same name and message and `status` and `type` properties. `coffer.call('batch',
 *   '[{"method": …, "args": …}, …]')` carries many calls in one crossing; the sandbox hands them
 *   to HostCall one by one and answers `[{"ok": true, "value": …} | {"ok": false, "error": problem}, …]`.
 * - `console.log/info/warn/error`: lines to the run's log callback, at most maxLogLines,
 *   each cut at 2,000 characters.
 * - `Date`: frozen at the run's `now`; there is no other clock, and no timers, network,
 *   filesystem, process, require or module loading.
 *
 * Every call counts against the run's maxCalls, each call in a batch too, and a batch that would
 * go past it is refused before any of it runs. The box works on at most maxCallsInFlight of an
 * app's calls at once (the others wait their turn), and a run may move at most maxRunBytes of
 * arguments and answers in all: what one run can make the box do is bounded, however it batches.
 *
 * Failures reject with typed errors (see errors/index.ts): AppFailed 422 (threw, rejected,
 * stack overflow, no main, result not JSON), AppTimeout 504 (cpuMs or wallMs, or waiting on a
 * promise nothing can settle), AppMemoryExceeded 422, AppOutputTooLarge 413 (result, one
 * crossing's arguments or answer, or the run's bytes), AppTooManyCalls 422, AppCrashed 502 (the
 * worker died; the next run starts a new one), AppStopped 409 (stop() or close() while the run
 * was pending or queued).
 *
 * An app's runs go one at a time, in order; different apps run in parallel.
 */
export { Sandbox, DEFAULT_LIMITS } from './sandbox.ts'
export type { SandboxLimits, HostCall, RunInput, RunResult, LogLevel } from './sandbox.ts'
