/**
 * The MIME structure of a raw message, read from its bytes (RFC 2046 §5.1):
 * each part's Content-Type with its children. mailparser flattens the tree;
 * iMIP clients care about its shape.
 */
export interface MimePart {
  readonly contentType: string;
  readonly headers: string;
  readonly body: string;
  readonly children: MimePart[];
}

export function mimeTree(raw: string): MimePart {
  const split = raw.indexOf('\r\n\r\n');
  const headers = raw.slice(0, split);
  const body = raw.slice(split + 4);
  const unfolded = headers.replace(/\r\n[ \t]+/g, ' ');
  const contentType = /^content-type:\s*([^\r\n]*)/im.exec(unfolded)?.[1]?.trim() ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  const children: MimePart[] = [];
  if (boundary && /^multipart\//i.test(contentType)) {
    const sections = body.split(`--${boundary}`);
    for (const section of sections.slice(1)) {
      if (section.startsWith('--')) break;
      children.push(mimeTree(section.replace(/^\r\n/, '')));
    }
  }
  return { contentType, headers: unfolded, body, children };
}

/** The media type alone: `text/calendar` of `text/calendar; method=REQUEST`. */
export function mediaType(part: MimePart): string {
  return part.contentType.split(';')[0]!.trim().toLowerCase();
}

/** One parameter of the Content-Type: `method` → `REQUEST`. */
export function contentTypeParameter(part: MimePart, name: string): string | undefined {
  return new RegExp(`;\\s*${name}="?([^";]+)"?`, 'i').exec(part.contentType)?.[1];
}
