import { GraphQLScalarType, Kind } from 'graphql';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import { GraphQLError } from 'graphql';

const DECIMAL = /^-?\d{1,20}(\.\d{1,10})?$/;

function parseDecimal(value: unknown): string {
  if (typeof value !== 'string' || !DECIMAL.test(value.trim())) {
    throw new GraphQLError('Decimal values are strings such as "1234.50" (never floats)', {
      extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } },
    });
  }
  return value.trim();
}

/** Exact decimal strings for money; a float would lose cents. */
export const DecimalScalar = new GraphQLScalarType<string, string>({
  name: 'Decimal',
  description: 'A decimal number as a string, e.g. "1234.50"; never a float.',
  serialize: (value) => String(value),
  parseValue: parseDecimal,
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) {
      throw new GraphQLError('Decimal literals are strings such as "1234.50"', { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
    }
    return parseDecimal(ast.value);
  },
});

export const DateTimeScalar = new GraphQLScalarType({ ...DateTimeResolver.toConfig(), name: 'DateTime' });
export const JSONScalar = JSONResolver;
