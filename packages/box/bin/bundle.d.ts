/** The bundle of an entry point under src/, built if the sources changed since; null where it cannot be built. */
export function bundle(relative: string): Promise<string | null>
/** A URL to import an entry point under src/ from: its bundle, else the source through tsx's loader. */
export function entry(relative: string): Promise<string>
