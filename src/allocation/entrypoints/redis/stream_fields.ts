// A stream entry's fields come as a flat list of names and values, as bytes (never decoded
// whole: a value may be over the size limit).

export function field(fields: Buffer[], name: string): Buffer | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i].toString() === name) return fields[i + 1];
  }
  return undefined;
}

/** What an entry without a payload holds, without its values (any of which may be huge). */
export function fieldNames(fields: Buffer[]): string {
  const names: string[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    names.push(`${fields[i].toString().slice(0, 100)} (${fields[i + 1].length} bytes)`);
  }
  return `fields: ${names.slice(0, 20).join(', ')}`;
}
