/**
 * The CLI's own output (help, version, "nodicorn: error: ..."), kept in the log room so that no
 * other room writes to the terminal directly. Each resolves once the text is written, so a caller
 * may exit right after.
 */
function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => {
    stream.write(text, () => resolve());
  });
}

export const printOut = (text: string): Promise<void> => write(process.stdout, text);
export const printErr = (text: string): Promise<void> => write(process.stderr, text);
