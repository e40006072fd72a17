/**
 * Types and loader for `redis7-commands.json`: the raw command data of a real Redis 7 (`COMMAND` and
 * `COMMAND DOCS`), written by `generate.ts` and committed. Nothing in here is redslot policy; that lives in
 * `classification.ts`, so regenerating the data never loses a decision.
 */
import data from './redis7-commands.json' with { type: 'json' };

/** One key spec, exactly as `COMMAND INFO` reports it (RESP maps turned into objects, field order kept). */
export interface RawKeySpec {
  readonly notes?: string;
  readonly flags: readonly string[];
  readonly begin_search: {
    readonly type: string; // 'index' | 'keyword' | 'unknown'
    readonly spec: { readonly index?: number; readonly keyword?: string; readonly startfrom?: number };
  };
  readonly find_keys: {
    readonly type: string; // 'range' | 'keynum' | 'unknown'
    readonly spec: {
      readonly lastkey?: number;
      readonly keystep?: number;
      readonly limit?: number;
      readonly keynumidx?: number;
      readonly firstkey?: number;
    };
  };
}

/** A `COMMAND DOCS` argument (recursive for blocks and oneofs). Field order is Redis's reply order. */
export interface RawArgument {
  readonly name: string;
  readonly type: string;
  readonly key_spec_index?: number;
  readonly token?: string;
  readonly summary?: string;
  readonly since?: string;
  readonly flags?: readonly string[];
  readonly deprecated_since?: string;
  readonly value?: string;
  readonly display_text?: string;
  readonly arguments?: readonly RawArgument[];
}

/** `COMMAND DOCS` of one command, without its `subcommands` map (those sit on the subcommand entries). */
export interface RawDocs {
  readonly summary?: string;
  readonly since?: string;
  readonly group?: string;
  readonly complexity?: string;
  readonly module?: string;
  readonly doc_flags?: readonly string[];
  readonly deprecated_since?: string;
  readonly replaced_by?: string;
  readonly history?: ReadonlyArray<readonly [string, string]>;
  readonly arguments?: readonly RawArgument[];
}

/** One command (or subcommand, named `container|sub`) as Redis 7 describes it. */
export interface RawCommand {
  readonly name: string;
  readonly arity: number;
  readonly flags: readonly string[];
  readonly first_key: number;
  readonly last_key: number;
  readonly step: number;
  readonly acl_categories: readonly string[];
  readonly tips: readonly string[];
  readonly key_specs: readonly RawKeySpec[];
  readonly subcommands: readonly RawCommand[];
  readonly docs: RawDocs;
}

export interface RawCommandFile {
  readonly generated_by: string;
  readonly redis_version: string;
  readonly commands: readonly RawCommand[];
}

/** The committed data. Imported (not read with fs) so that `tsc` copies the JSON next to the compiled code. */
export const RAW_COMMANDS: RawCommandFile = data as unknown as RawCommandFile;
