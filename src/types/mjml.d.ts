// mjml 5 ships no types; this is the part of its API the project calls (the async compile).
declare module 'mjml' {
  interface MjmlError {
    line: number;
    message: string;
    tagName: string;
    formattedMessage: string;
  }
  export default function mjml2html(source: string, options?: Record<string, unknown>): Promise<{ html: string; errors: MjmlError[] }>;
}
